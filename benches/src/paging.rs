//! Section 3: peak memory while paging through a long list, each variant in its own child
//! process (this binary re-executed with the hidden `paging-child` subcommand) so that the
//! peaks do not contaminate each other.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acs_chat::models::ChatMessage;
use acs_chat::{ChatClient, CommunicationTokenCredential, ListChatMessagesOptions};
use futures::{StreamExt as _, TryStreamExt as _};

use crate::BoxError;
use crate::fixtures::{PAGING_PAGE_SIZE, TOKEN, paging_thread};

/// The environment variable that hands the canned server's certificate to the child.
const CA_ENV: &str = "CHAT_BENCH_CA_PEM";

/// What a child does with the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Variant {
    /// Fetches the first page only: the floor (runtime, TLS, client, one page).
    FirstPage,
    /// Streams the items and counts them.
    Count,
    /// Collects every item into a `Vec<ChatMessage>`.
    Collect,
}

impl Variant {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::FirstPage => "first page only (the floor: runtime, TLS, client, one page)",
            Self::Count => "stream every item and count it",
            Self::Collect => "collect every item into a `Vec<ChatMessage>`",
        }
    }
}

/// What a child reports.
#[derive(Debug, Clone)]
pub(crate) struct ChildReport {
    pub(crate) items: usize,
    pub(crate) peak_kb: Option<u64>,
    pub(crate) elapsed: Duration,
}

/// The child: lists `pages` pages from the canned server at `endpoint` and prints
/// `items=<n> peak_kb=<VmHWM> elapsed_us=<t>` on stdout.
pub(crate) fn child(variant: Variant, endpoint: &str, pages: usize) -> Result<(), BoxError> {
    let ca = std::env::var(CA_ENV).map_err(|_| format!("{CA_ENV} is not set"))?;
    let runtime = crate::multi_thread_runtime()?;
    let (items, elapsed, peak) = runtime.block_on(async {
        let client = ChatClient::builder(endpoint, CommunicationTokenCredential::new(TOKEN)?)
            .add_root_certificate_pem(ca.into_bytes())
            .build()?;
        let thread = client.chat_thread_client(paging_thread(pages));
        let pager = thread.list_messages(
            ListChatMessagesOptions::default().max_page_size(PAGING_PAGE_SIZE as i32),
        );
        let started = Instant::now();
        let (items, peak) = match variant {
            Variant::FirstPage => {
                let page = pager.into_pages().next().await.ok_or("no page")??;
                (page.items.len(), peak_rss_kb())
            }
            Variant::Count => {
                let mut n = 0;
                let mut pager = pager;
                while let Some(item) = pager.next().await {
                    item?;
                    n += 1;
                }
                (n, peak_rss_kb())
            }
            Variant::Collect => {
                let all: Vec<ChatMessage> = pager.try_collect().await?;
                // Read the peak while the items are still alive.
                let peak = peak_rss_kb();
                (std::hint::black_box(all).len(), peak)
            }
        };
        Ok::<_, BoxError>((items, started.elapsed(), peak))
    })?;
    println!(
        "items={items} peak_kb={} elapsed_us={}",
        peak.map_or_else(|| "none".to_owned(), |kb| kb.to_string()),
        elapsed.as_micros()
    );
    Ok(())
}

/// Runs one child against the canned server and parses its report.
pub(crate) fn run_child(
    variant: Variant,
    endpoint: &str,
    ca_pem: &str,
    pages: usize,
) -> Result<ChildReport, BoxError> {
    let exe = std::env::current_exe()?;
    let variant_arg = clap::ValueEnum::to_possible_value(&variant)
        .ok_or("variant without a name")?
        .get_name()
        .to_owned();
    let output = Command::new(exe)
        .args([
            "paging-child",
            "--variant",
            &variant_arg,
            "--endpoint",
            endpoint,
        ])
        .args(["--pages", &pages.to_string()])
        .env(CA_ENV, ca_pem)
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("paging child ({variant_arg}) failed: {}", output.status).into());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
            .ok_or_else(|| format!("the paging child printed no {name}: {text:?}"))
    };
    Ok(ChildReport {
        items: field("items")?.parse()?,
        peak_kb: field("peak_kb")?.parse().ok(),
        elapsed: Duration::from_micros(field("elapsed_us")?.parse()?),
    })
}

/// The peak resident set size of this process (`VmHWM`), in kB; `None` off Linux.
pub(crate) fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
