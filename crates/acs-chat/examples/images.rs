//! The image operations of api-version 2024-03-15-preview (Teams-interop threads): upload, get
//! a rendition, delete.
//!
//! ```sh
//! cargo run -p acs-chat --example images
//! ```
//!
//! The local emulator does not serve them (it answers 501), so this example runs over a small
//! in-memory fake built from a closure transport — the same seam a test uses. Against a real
//! resource, build the client with `.api_version(ApiVersion::V2024_03_15_PREVIEW)` and a token of
//! a user in a Teams meeting chat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use acs_chat::bytes::Bytes;
use acs_chat::http::{Method, Request, Response, StatusCode};
use acs_chat::models::ImageViewType;
use acs_chat::{ApiVersion, ChatClient, CommunicationTokenCredential, UploadChatImageOptions};

// {"exp": 32503680000}: a token that expires in the year 3000.
const TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJleHAiOjMyNTAzNjgwMDAwfQ.c2ln";

#[tokio::main]
async fn main() -> Result<(), acs_chat::Error> {
    // A fake image store: POST …/images stores, GET …/images/{id}/view/{view} returns, DELETE
    // removes.
    let images: Arc<Mutex<HashMap<String, Bytes>>> = Arc::default();
    let transport = move |request: Request<Bytes>| {
        let images = Arc::clone(&images);
        async move {
            let path = request.uri().path().to_owned();
            let mut images = images.lock().unwrap_or_else(|e| e.into_inner());
            let (status, body) = match *request.method() {
                Method::POST => {
                    let id = format!("img{}", images.len() + 1);
                    images.insert(id.clone(), request.into_body());
                    let body = format!(r#"{{"id":"{id}","attachmentType":"image"}}"#);
                    (StatusCode::CREATED, Bytes::from(body))
                }
                Method::GET => match path.split('/').nth(5).and_then(|id| images.get(id)) {
                    Some(image) => (StatusCode::OK, image.clone()),
                    None => (StatusCode::NOT_FOUND, Bytes::new()),
                },
                _ => {
                    let id = path.rsplit('/').next().unwrap_or_default();
                    images.remove(id);
                    (StatusCode::NO_CONTENT, Bytes::new())
                }
            };
            let mut response = Response::new(body);
            *response.status_mut() = status;
            if status == StatusCode::OK {
                response
                    .headers_mut()
                    .insert("content-type", "image/png".parse().expect("a header value"));
            }
            Ok(response)
        }
    };
    let client = ChatClient::builder(
        "https://contoso.communication.azure.com",
        CommunicationTokenCredential::new(TOKEN)?,
    )
    .api_version(ApiVersion::V2024_03_15_PREVIEW)
    .transport(transport)
    .build()?;
    let thread = client.chat_thread_client("19:meeting_abc@thread.v2");

    let png = Bytes::from_static(b"\x89PNG\r\n\x1a\n(an image)");
    let uploaded = thread
        .upload_image(
            png.clone(),
            UploadChatImageOptions::default().image_filename("cat.png"),
        )
        .await?;
    println!("uploaded {}", uploaded.id);
    let image = thread
        .get_image(&uploaded.id, ImageViewType::Original)
        .await?;
    println!(
        "downloaded {} bytes of {}",
        image.data.len(),
        image.content_type.as_deref().unwrap_or("?")
    );
    assert_eq!(image.data, png);
    thread.delete_image(&uploaded.id).await?;
    println!("deleted {}", uploaded.id);
    Ok(())
}
