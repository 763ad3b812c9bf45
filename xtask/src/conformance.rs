//! `cargo xtask conformance --spec <dir>`: runs every x-ms-example of api-versions 2025-03-15
//! and 2024-03-15-preview through `acs-chat-protocol`.
//!
//! For each example: the request built from the example's parameters must match the spec's
//! method, the path (after percent-decoding each segment), the query and the body (compared as
//! JSON values); then every response of the example is parsed: a 2xx must parse into the typed
//! result whose JSON form equals the example's body field by field (timestamps compared as
//! instants, so `…41.6460000Z` equals `…41.646Z`), and an error status must become a service
//! error with the example's status, code and message.
//!
//! Example files in a version's `examples/` folder that its spec does not reference (the 2025-03-15
//! folder keeps the preview's `Images_*` files) are run too and counted separately.

use std::collections::BTreeMap;
use std::path::Path;

use acs_chat_protocol::models::ImageViewType;
use acs_chat_protocol::operations::*;
use acs_chat_protocol::{
    ApiVersion, CommunicationIdentifier, DateTime, Endpoint, ErrorKind, Operation, Page,
    RequestContext,
};
use anyhow::{Context, anyhow, bail, ensure};
use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const VERSIONS: &[&str] = &["2025-03-15", "2024-03-15-preview"];

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let spec_dir = crate::flag_value(args, "--spec")
        .ok_or_else(|| anyhow!("usage: cargo xtask conformance --spec <dir>"))?;
    let mut passed = 0;
    let mut total = 0;
    let mut extra_passed = 0;
    let mut extra_total = 0;
    let mut checks = 0;
    let mut failures = Vec::new();
    let specs = VERSIONS
        .iter()
        .map(|version| {
            let dir = Path::new(spec_dir).join(version);
            let spec = crate::read_json(&dir.join("communicationserviceschat.json"))?;
            let examples = referenced_examples(&spec)?;
            Ok((version, dir, spec, examples))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (version, dir, spec, examples) in &specs {
        let mut runs: Vec<(&str, String, &Value, bool)> = examples
            .iter()
            .map(|(op, file)| (op.as_str(), file.clone(), spec, true))
            .collect();
        // Unreferenced files: their operation, method and path come from the spec that references
        // them (the preview's, for the 2025-03-15 folder's `Images_*` files).
        for entry in std::fs::read_dir(dir.join("examples"))
            .with_context(|| format!("reading {}/examples", dir.display()))?
        {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let file = format!("examples/{name}");
            if !name.ends_with(".json") || examples.iter().any(|(_, f)| *f == file) {
                continue;
            }
            let (op, spec) = specs
                .iter()
                .find_map(|(_, _, spec, examples)| {
                    let (op, _) = examples.iter().find(|(_, f)| *f == file)?;
                    Some((op.as_str(), spec))
                })
                .ok_or_else(|| anyhow!("no spec references {file}"))?;
            runs.push((op, file, spec, false));
        }
        for (op_id, file, spec, is_referenced) in runs {
            let path = dir.join(&file);
            let example = crate::read_json(&path)?;
            let result = run_example(spec, op_id, &example);
            let label = format!("{version}/{file} ({op_id})");
            if is_referenced {
                total += 1;
            } else {
                extra_total += 1;
            }
            match result {
                Ok(n) => {
                    checks += n;
                    if is_referenced {
                        passed += 1;
                    } else {
                        extra_passed += 1;
                    }
                    println!("pass  {label}: {n} checks");
                }
                Err(e) => {
                    println!("FAIL  {label}: {e:#}");
                    failures.push(label);
                }
            }
        }
    }
    println!(
        "\n{passed}/{total} examples pass ({extra_passed}/{extra_total} unreferenced example files pass; {checks} field and wire checks)"
    );
    if !failures.is_empty() {
        bail!(
            "{} example(s) failed: {}",
            failures.len(),
            failures.join(", ")
        );
    }
    Ok(())
}

/// (operationId, example file relative to the version folder) for every x-ms-example.
fn referenced_examples(spec: &Value) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let paths = spec
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("spec has no paths"))?;
    for methods in paths.values() {
        for op in methods.as_object().into_iter().flat_map(|m| m.values()) {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            for example in op
                .get("x-ms-examples")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|e| e.values())
            {
                let file = example
                    .get("$ref")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("x-ms-example without $ref in {id}"))?;
                out.push((id.to_string(), file.trim_start_matches("./").to_string()));
            }
        }
    }
    Ok(out)
}

/// The spec's method and path template of `op_id`.
fn spec_operation(spec: &Value, op_id: &str) -> anyhow::Result<(String, String)> {
    for (path, methods) in spec
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (method, op) in methods.as_object().into_iter().flatten() {
            if op.get("operationId").and_then(Value::as_str) == Some(op_id) {
                return Ok((method.to_uppercase(), path.clone()));
            }
        }
    }
    bail!("operation {op_id} not in the spec")
}

fn param<T: DeserializeOwned>(params: &Value, name: &str) -> anyhow::Result<T> {
    let v = params
        .get(name)
        .ok_or_else(|| anyhow!("example has no parameter {name}"))?;
    serde_json::from_value(v.clone()).with_context(|| format!("parameter {name} does not parse"))
}

fn opt_param<T: DeserializeOwned>(params: &Value, name: &str) -> anyhow::Result<Option<T>> {
    params
        .get(name)
        .map(|v| serde_json::from_value(v.clone()).with_context(|| format!("parameter {name}")))
        .transpose()
}

fn s(params: &Value, name: &str) -> anyhow::Result<String> {
    param(params, name)
}

/// Runs one example; returns how many checks passed.
fn run_example(spec: &Value, op_id: &str, example: &Value) -> anyhow::Result<usize> {
    let p = example
        .get("parameters")
        .ok_or_else(|| anyhow!("example has no parameters"))?;
    let endpoint = Endpoint::parse(&s(p, "endpoint")?)?;
    let ctx = RequestContext::new(endpoint, ApiVersion::new(s(p, "api-version")?));
    let (method, template) = spec_operation(spec, op_id)?;
    let c = Checker {
        ctx: &ctx,
        example,
        method,
        template,
    };
    // Each operation is made with `new` from the example's path parameters and default
    // options; the example's body and optional parameters are then set on the value's public
    // fields, as the spec names them.
    fn d<T: Default>() -> T {
        T::default()
    }
    let thread = || s(p, "chatThreadId");
    let message = || s(p, "chatMessageId");
    match op_id {
        "Chat_CreateChatThread" => {
            let mut op = CreateChatThread::new("", d());
            op.body = param(p, "createChatThreadRequest")?;
            // The spec's header is `repeatability-request-id`; one example names it
            // `idempotency-token` (an inconsistency in the examples). Either is sent as the header.
            op.repeatability_request_id =
                opt_param(p, "repeatability-request-id")?.or(opt_param(p, "idempotency-token")?);
            c.run(op, Some("createChatThreadRequest"), output_json)
        }
        "Chat_ListChatThreads" => {
            let mut op = ListChatThreads::new(d());
            op.max_page_size = opt_param(p, "maxPageSize")?;
            op.start_time = opt_param::<DateTime>(p, "startTime")?;
            c.run(op, None, page_json)
        }
        "ChatThread_GetChatThreadProperties" => {
            c.run(GetChatThreadProperties::new(thread()?), None, output_json)
        }
        "ChatThread_UpdateChatThreadProperties" => {
            let mut op = UpdateChatThreadProperties::new(thread()?, d());
            op.body = param(p, "updateChatThreadRequest")?;
            c.run(op, Some("updateChatThreadRequest"), unit_json)
        }
        "Chat_DeleteChatThread" => c.run(DeleteChatThread::new(thread()?), None, unit_json),
        "ChatThread_SendChatMessage" => {
            let mut op = SendChatMessage::new(thread()?, "", d());
            op.body = param(p, "sendChatMessageRequest")?;
            c.run(op, Some("sendChatMessageRequest"), output_json)
        }
        "ChatThread_ListChatMessages" => {
            let mut op = ListChatMessages::new(thread()?, d());
            op.max_page_size = opt_param(p, "maxPageSize")?;
            op.start_time = opt_param::<DateTime>(p, "startTime")?;
            c.run(op, None, page_json)
        }
        "ChatThread_GetChatMessage" => c.run(
            GetChatMessage::new(thread()?, message()?),
            None,
            output_json,
        ),
        "ChatThread_UpdateChatMessage" => {
            let mut op = UpdateChatMessage::new(thread()?, message()?, d());
            op.body = param(p, "updateChatMessageRequest")?;
            c.run(op, Some("updateChatMessageRequest"), unit_json)
        }
        "ChatThread_DeleteChatMessage" => c.run(
            DeleteChatMessage::new(thread()?, message()?),
            None,
            unit_json,
        ),
        "ChatThread_ListChatParticipants" => {
            let mut op = ListChatParticipants::new(thread()?, d());
            op.max_page_size = opt_param(p, "maxPageSize")?;
            op.skip = opt_param(p, "skip")?;
            c.run(op, None, page_json)
        }
        "ChatThread_AddChatParticipants" => {
            let mut op = AddChatParticipants::new(thread()?, vec![]);
            op.body = param(p, "addChatParticipantsRequest")?;
            c.run(op, Some("addChatParticipantsRequest"), output_json)
        }
        "ChatThread_RemoveChatParticipant" => c.run(
            RemoveChatParticipant::new(
                thread()?,
                param::<CommunicationIdentifier>(p, "participantCommunicationIdentifier")?,
            ),
            Some("participantCommunicationIdentifier"),
            unit_json,
        ),
        "ChatThread_SendChatReadReceipt" => {
            let mut op = SendChatReadReceipt::new(thread()?, "");
            op.body = param(p, "sendReadReceiptRequest")?;
            c.run(op, Some("sendReadReceiptRequest"), unit_json)
        }
        "ChatThread_ListChatReadReceipts" => {
            let mut op = ListChatReadReceipts::new(thread()?, d());
            op.max_page_size = opt_param(p, "maxPageSize")?;
            op.skip = opt_param(p, "skip")?;
            c.run(op, None, page_json)
        }
        "ChatThread_SendTypingNotification" => {
            let mut op = SendTypingNotification::new(thread()?, d());
            op.body = opt_param(p, "sendTypingNotificationRequest")?;
            c.run(op, Some("sendTypingNotificationRequest"), unit_json)
        }
        "ChatThread_UploadChatImage" => {
            let data_url = s(p, "chatImageFile")?;
            let image = decode_data_url(&data_url)?;
            let mut op = UploadChatImage::new(thread()?, image.clone(), d());
            op.image_filename = opt_param(p, "image-filename")?;
            c.run_with_body(op, BodyCheck::Bytes(image), output_json)
        }
        "ChatThread_GetChatImage" => {
            let view = ImageViewType::from(s(p, "imageViewType")?);
            c.run(
                GetChatImage::new(thread()?, s(p, "imageId")?, view),
                None,
                |img: &ChatImage| json!({"contentType": img.content_type, "len": img.data.len()}),
            )
        }
        "ChatThread_DeleteChatImage" => c.run(
            DeleteChatImage::new(thread()?, s(p, "imageId")?),
            None,
            unit_json,
        ),
        other => bail!("no conformance mapping for {other}"),
    }
}

fn decode_data_url(url: &str) -> anyhow::Result<Bytes> {
    let (_, data) = url
        .split_once(";base64,")
        .ok_or_else(|| anyhow!("chatImageFile is not a base64 data URL"))?;
    Ok(Bytes::from(
        base64::engine::general_purpose::STANDARD.decode(data)?,
    ))
}

fn output_json<T: Serialize>(output: &T) -> Value {
    serde_json::to_value(output).unwrap_or(Value::Null)
}

fn page_json<T: Serialize>(page: &Page<T>) -> Value {
    let mut v = json!({ "value": page.items });
    if let Some(link) = &page.next_link {
        v["nextLink"] = json!(link);
    }
    v
}

fn unit_json(_: &()) -> Value {
    Value::Null
}

enum BodyCheck {
    Json(Option<Value>),
    Bytes(Bytes),
}

struct Checker<'a> {
    ctx: &'a RequestContext,
    example: &'a Value,
    method: String,
    template: String,
}

impl Checker<'_> {
    fn run<O: Operation>(
        &self,
        op: O,
        body_param: Option<&str>,
        to_json: impl Fn(&O::Output) -> Value,
    ) -> anyhow::Result<usize> {
        let p = &self.example["parameters"];
        let body = body_param.and_then(|name| p.get(name).cloned());
        self.run_with_body(op, BodyCheck::Json(body), to_json)
    }

    fn run_with_body<O: Operation>(
        &self,
        op: O,
        body: BodyCheck,
        to_json: impl Fn(&O::Output) -> Value,
    ) -> anyhow::Result<usize> {
        let mut checks = 0;
        let p = &self.example["parameters"];
        let request = op.build_request(self.ctx)?;
        // Method.
        ensure!(
            request.method().as_str() == self.method,
            "method {} != {}",
            request.method(),
            self.method
        );
        checks += 1;
        // Path: each segment percent-decoded equals the template filled with the raw values.
        let uri = request.uri();
        let prefix = self.ctx.endpoint().path_prefix();
        let path = uri
            .path()
            .strip_prefix(prefix)
            .ok_or_else(|| anyhow!("path {} lacks the endpoint prefix", uri.path()))?;
        let built: Vec<String> = path
            .split('/')
            .map(|seg| {
                percent_encoding::percent_decode_str(seg)
                    .decode_utf8()
                    .map(|s| s.into_owned())
            })
            .collect::<Result<_, _>>()?;
        let expected: Vec<String> = self
            .template
            .split('/')
            .map(
                |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => p
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    None => seg.to_string(),
                },
            )
            .collect();
        ensure!(built == expected, "path segments {built:?} != {expected:?}");
        checks += 1;
        // Query: exactly api-version plus the example's query parameters.
        let mut query: BTreeMap<String, String> = BTreeMap::new();
        for pair in uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|s| !s.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()?
                .into_owned();
            ensure!(
                query.insert(k.to_string(), v).is_none(),
                "query parameter {k} repeated"
            );
        }
        let mut want: BTreeMap<String, String> = BTreeMap::new();
        want.insert(
            "api-version".into(),
            p["api-version"].as_str().unwrap_or_default().into(),
        );
        for name in ["maxPageSize", "skip", "startTime"] {
            if let Some(v) = p.get(name) {
                want.insert(
                    name.into(),
                    match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                );
            }
        }
        if let (Some(a), Some(b)) = (query.get("startTime"), want.get("startTime")) {
            ensure!(
                DateTime::parse(a)? == DateTime::parse(b)?,
                "startTime {a} != {b}"
            );
            want.insert("startTime".into(), a.clone());
        }
        ensure!(query == want, "query {query:?} != {want:?}");
        checks += 1;
        // Headers.
        let header = |n: &str| request.headers().get(n).and_then(|v| v.to_str().ok());
        ensure!(header("accept").is_some(), "no Accept header");
        if let Some(id) = p
            .get("repeatability-request-id")
            .or_else(|| p.get("idempotency-token"))
            .and_then(Value::as_str)
        {
            ensure!(
                header("repeatability-request-id") == Some(id),
                "repeatability-request-id not sent"
            );
            checks += 1;
        }
        if let Some(name) = p.get("image-filename").and_then(Value::as_str) {
            ensure!(
                header("image-filename") == Some(name),
                "image-filename not sent"
            );
            checks += 1;
        }
        // Body.
        match body {
            BodyCheck::Json(Some(want)) => {
                let mut got: Value =
                    serde_json::from_slice(request.body()).context("request body is not JSON")?;
                drop_implied_kinds(&mut got, &want);
                ensure!(got == want, "request body {got} != {want}");
                ensure!(
                    header("content-type").is_some(),
                    "no Content-Type with a body"
                );
                checks += 2;
            }
            BodyCheck::Json(None) => {
                ensure!(request.body().is_empty(), "unexpected request body");
                checks += 1;
            }
            BodyCheck::Bytes(want) => {
                ensure!(request.body() == &want, "request body bytes differ");
                ensure!(
                    header("content-type") == Some("application/octet-stream"),
                    "upload must be application/octet-stream"
                );
                checks += 2;
            }
        }
        // Responses.
        let responses = self.example["responses"]
            .as_object()
            .ok_or_else(|| anyhow!("example has no responses"))?;
        for (status, response) in responses {
            let code: u16 = status.parse().with_context(|| format!("status {status}"))?;
            let mut builder = http::Response::builder().status(code);
            for (k, v) in response
                .get("headers")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                builder = builder.header(k.as_str(), v.as_str().unwrap_or_default());
            }
            let body_value = response.get("body");
            let bytes = match body_value {
                None => Bytes::new(),
                Some(Value::String(s)) => Bytes::from(s.clone()),
                Some(v) => Bytes::from(serde_json::to_vec(v)?),
            };
            let http_response = builder.body(bytes.clone())?;
            let parsed = op.parse_response(http_response);
            if (200..300).contains(&code) {
                let output = parsed.map_err(|e| anyhow!("{status} response did not parse: {e}"))?;
                let mut got = to_json(&output);
                let want = match body_value {
                    Some(Value::String(_)) => {
                        let ct = response["headers"]["Content-Type"].clone();
                        json!({"contentType": ct, "len": bytes.len()})
                    }
                    Some(v) => v.clone(),
                    None => Value::Null,
                };
                drop_implied_kinds(&mut got, &want);
                compare(&got, &want, "$").with_context(|| format!("{status} response fields"))?;
                checks += count_leaves(&want).max(1);
            } else {
                let err = match parsed {
                    Ok(_) => bail!("{status} response parsed as success"),
                    Err(e) => e,
                };
                ensure!(
                    err.kind() == ErrorKind::Service,
                    "{status}: kind {:?}",
                    err.kind()
                );
                let svc = err.service().ok_or_else(|| anyhow!("no service error"))?;
                ensure!(svc.status().as_u16() == code, "status {}", svc.status());
                let want_code = body_value
                    .and_then(|b| b.pointer("/error/code"))
                    .and_then(Value::as_str);
                let want_message = body_value
                    .and_then(|b| b.pointer("/error/message"))
                    .and_then(Value::as_str);
                ensure!(
                    svc.code() == want_code,
                    "{status}: code {:?} != {want_code:?}",
                    svc.code()
                );
                ensure!(
                    svc.message() == want_message,
                    "{status}: message {:?} != {want_message:?}",
                    svc.message()
                );
                checks += 3;
            }
        }
        Ok(checks)
    }
}

/// Removes from `got` the identifiers' `kind` where `want` has none: the spec allows `kind` in
/// requests ("only required in responses") and this crate always writes it, while the examples'
/// requests leave it out.
fn drop_implied_kinds(got: &mut Value, want: &Value) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            if g.contains_key("rawId") && !w.contains_key("kind") {
                g.remove("kind");
            }
            for (k, gv) in g.iter_mut() {
                if let Some(wv) = w.get(k) {
                    drop_implied_kinds(gv, wv);
                }
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            for (gv, wv) in g.iter_mut().zip(w) {
                drop_implied_kinds(gv, wv);
            }
        }
        _ => {}
    }
}

/// Field-by-field equality; strings that are both RFC 3339 timestamps compare as instants.
fn compare(got: &Value, want: &Value, path: &str) -> anyhow::Result<()> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or(&Value::Null);
                compare(gv, wv, &format!("{path}.{k}"))?;
            }
            for (k, gv) in g {
                ensure!(
                    w.contains_key(k) || gv.is_null(),
                    "{path}.{k}: the parsed value has a field the example lacks"
                );
            }
            Ok(())
        }
        (Value::Array(g), Value::Array(w)) => {
            ensure!(
                g.len() == w.len(),
                "{path}: {} items != {}",
                g.len(),
                w.len()
            );
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                compare(gv, wv, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::String(g), Value::String(w)) if g != w => {
            match (DateTime::parse(g), DateTime::parse(w)) {
                (Ok(a), Ok(b)) if a == b => Ok(()),
                _ => bail!("{path}: {g:?} != {w:?}"),
            }
        }
        _ => {
            ensure!(got == want, "{path}: {got} != {want}");
            Ok(())
        }
    }
}

fn count_leaves(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.values().map(count_leaves).sum(),
        Value::Array(a) => a.iter().map(count_leaves).sum(),
        _ => 1,
    }
}
