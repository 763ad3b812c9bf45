//! `acs-chat-bench`: sections 2 to 4 of `BENCHMARKS.md` (run by `cargo xtask bench`).
//!
//! 2. Client overhead: acs-chat against a bare hyper-util client sending byte-identical
//!    requests, both to a canned HTTPS server on 127.0.0.1, at 1, 16 and 64 requests in flight.
//! 3. Paging memory: the peak resident memory of listing 500 pages of 200 messages through the
//!    pager, streaming (count only) and collecting, each in a child process.
//! 4. Emulator: acs-chat against the in-process emulator and against the canned server
//!    answering with the service's headers to a client holding an emulator token
//!    (`server::Shape::Service`), at 64 in flight.
//!
//! The Markdown goes to stdout, progress to stderr. Every figure that matters is a ratio of
//! two measurements taken in the same run, alternated round by round. `--quick` (CI's smoke
//! run) uses tiny counts and never fails on numbers; no target is ever asserted.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use acs_chat::{
    ChatClient, ChatClientBuilder, ChatThreadClient, CommunicationTokenCredential,
    CreateChatThreadOptions, ListChatMessagesOptions, SendChatMessageOptions,
};
use acs_chat_emulator::{Emulator, RunningEmulator};
use acs_chat_transport::{HyperTransport, Transport as _};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use futures::StreamExt as _;
use http::{Request, Version};

/// The messages and the plain baseline types, shared with acs-chat-protocol's criterion benches.
#[path = "../../crates/acs-chat-protocol/benches/common/mod.rs"]
mod common;
mod events;
mod fixtures;
mod load;
mod paging;
mod persistence;
mod raw;
mod server;

use fixtures::{LIST_PAGE_SIZE, PAGING_PAGE_SIZE, SENT_CONTENT, THREAD, TOKEN};
use load::{Budget, Driver, Stats};
use server::{CannedServer, Shape};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The HTTP version both clients are limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
}

impl Protocol {
    /// HTTP/1.1 with `--http1`, else HTTP/2.
    fn from_flag(http1: bool) -> Self {
        if http1 { Self::Http1 } else { Self::Http2 }
    }
}

/// The multi-thread runtime (one worker per core) the measurements run on.
pub(crate) fn multi_thread_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

#[derive(Debug, Parser)]
#[command(about = "End-to-end benchmarks of the ACS Chat SDK (sections 2 to 4 of BENCHMARKS.md)")]
struct Args {
    /// CI smoke run: tiny counts, same tables; the numbers mean little.
    #[arg(long)]
    quick: bool,
    /// Limit both clients to HTTP/1.1 instead of HTTP/2.
    #[arg(long)]
    http1: bool,
    /// Run only this section (for profiling work; the full run is what BENCHMARKS.md shows).
    #[arg(long, value_enum, hide = true)]
    only: Option<Section>,
    /// Leave out the restart measurement of section 4 (which fills a data directory first).
    #[arg(long, hide = true)]
    no_restart: bool,
    #[command(subcommand)]
    command: Option<Hidden>,
}

/// A section of the run, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    /// 2. Client overhead.
    Overhead,
    /// 3. Paging memory.
    Paging,
    /// 4. Emulator.
    Emulator,
    /// The events section.
    Events,
}

#[derive(Debug, Subcommand)]
enum Hidden {
    /// One paging-memory variant (run by the parent, one process per variant).
    #[command(hide = true)]
    PagingChild {
        #[arg(long, value_enum)]
        variant: paging::Variant,
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        pages: usize,
    },
    /// Starts a persisted emulator on a data directory and reports how long it took and its
    /// peak memory (run by the parent, in its own process).
    #[command(hide = true)]
    RestartChild {
        #[arg(long)]
        data_dir: std::path::PathBuf,
    },
    /// Drives one variant alone against the canned server, for a profiler.
    #[command(hide = true)]
    Drive {
        #[arg(long, value_enum)]
        op: Op,
        /// The bare hyper-util client instead of acs-chat.
        #[arg(long)]
        raw: bool,
        /// With `--raw`: also decode each response into the plain types.
        #[arg(long, requires = "raw")]
        decode: bool,
        #[arg(long, default_value_t = 64)]
        in_flight: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Over an in-memory transport, one call at a time, this many calls (for callgrind).
        #[arg(long)]
        memory_calls: Option<u64>,
        /// acs-chat against the in-process emulator instead of the canned server.
        #[arg(long)]
        emulator: bool,
        /// acs-chat-transport's `HyperTransport` alone sending the raw requests.
        #[arg(long)]
        transport: bool,
        /// Send this many requests in all instead of running for `--seconds` (for callgrind
        /// and `strace -c`, whose figures are then per request).
        #[arg(long)]
        requests: Option<u64>,
        /// A current-thread runtime instead of the multi-thread one.
        #[arg(long)]
        current_thread: bool,
        /// With `--emulator`: persisted in a temporary data directory.
        #[arg(long, requires = "emulator")]
        persisted: bool,
        /// acs-chat against the canned server answering with the service's headers
        /// (`Shape::Service`), with a token the emulator minted: the emulator's baseline.
        #[arg(long, conflicts_with_all = ["emulator", "raw", "transport"])]
        service_shape: bool,
    },
    /// Parses a list-messages page `--calls` times, for callgrind.
    #[command(hide = true)]
    Parse {
        /// Messages in the page.
        #[arg(long, default_value_t = 200)]
        messages: usize,
        #[arg(long, default_value_t = 1000)]
        calls: u64,
        /// `serde_json` into the plain baseline types instead of acs-chat-protocol.
        #[arg(long)]
        baseline: bool,
    },
    /// Parses a list-messages page by acs-chat-protocol and by the baseline in alternating
    /// rounds; prints the median over rounds of the throughput ratio (section 1).
    #[command(hide = true)]
    ParsePaired {
        /// Messages in the page.
        #[arg(long, default_value_t = 200)]
        messages: usize,
        /// Rounds (each parses with both, the order alternating).
        #[arg(long, default_value_t = 41)]
        rounds: usize,
        /// Parses of each kind per round.
        #[arg(long, default_value_t = 50)]
        calls: u64,
        /// What acs-chat-protocol is paired with.
        #[arg(long, value_enum, default_value_t = Against::Baseline)]
        against: Against,
    },
}

/// What `parse-paired` sets against acs-chat-protocol's parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Against {
    /// `serde_json` into the plain baseline types (section 1's target).
    Baseline,
    /// sonic-rs (SIMD) into acs-chat-protocol's own models.
    SonicRs,
    /// simd-json into acs-chat-protocol's own models (it parses in place: a copy of the body
    /// each time, as a caller holding shared `Bytes` must make).
    SimdJson,
}

/// How much each measurement sends.
#[derive(Debug, Clone, Copy)]
struct Plan {
    quick: bool,
    warm_up: Budget,
    round: Budget,
    rounds: usize,
    pages: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                warm_up: Budget::Count(20),
                round: Budget::Count(100),
                rounds: 2,
                pages: 10,
            }
        } else {
            Self {
                quick,
                warm_up: Budget::Time(Duration::from_millis(250)),
                round: Budget::Time(Duration::from_millis(200)),
                rounds: 10,
                pages: 500,
            }
        }
    }

    fn describe(&self) -> String {
        let per_round = match self.round {
            Budget::Time(d) => format!("{} ms", d.as_millis()),
            Budget::Count(n) => format!("{n} requests"),
        };
        let warm_up = match self.warm_up {
            Budget::Time(d) => format!("{} ms", d.as_millis()),
            Budget::Count(n) => format!("{n} requests"),
        };
        format!(
            "after a discarded warm-up of {warm_up} each, {} rounds of {per_round} per variant, \
             the variants back to back in each round, in an order that rotates from round to \
             round. Requests/s and latencies are over all rounds; a throughput *ratio* (and, in \
             section 2, a p99 ratio marked *paired*) is the median over rounds of the ratio \
             within each round, so that a burst of noise on the shared machine moves one \
             round, not the figure",
            self.rounds
        )
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Some(Hidden::PagingChild {
            variant,
            endpoint,
            pages,
        }) => paging::child(variant, &endpoint, pages),
        Some(Hidden::RestartChild { data_dir }) => persistence::restart_child(&data_dir),
        Some(Hidden::Drive {
            op,
            memory_calls: Some(calls),
            ..
        }) => drive_memory(op, calls),
        Some(Hidden::Drive {
            op,
            raw,
            decode,
            in_flight,
            seconds,
            memory_calls: None,
            emulator,
            transport,
            requests,
            current_thread,
            persisted,
            service_shape,
        }) => {
            let variant = match (raw, transport, emulator) {
                (true, _, _) if decode => Variant::RawDecode,
                (true, _, _) => Variant::Raw,
                (_, true, _) => Variant::Transport,
                (_, _, true) => Variant::Emulator,
                _ if service_shape => Variant::ServiceShaped,
                _ => Variant::Client,
            };
            let budget = match requests {
                Some(n) => Budget::Count(n),
                None => Budget::Time(Duration::from_secs_f64(seconds)),
            };
            let setup = DriveSetup {
                in_flight,
                budget,
                http1: args.http1,
                current_thread,
                persisted,
            };
            drive(op, variant, &setup)
        }
        Some(Hidden::Parse {
            messages,
            calls,
            baseline,
        }) => parse(messages, calls, baseline),
        Some(Hidden::ParsePaired {
            messages,
            rounds,
            calls,
            against,
        }) => parse_paired(messages, rounds, calls, against),
        None => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("acs-chat-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), BoxError> {
    let plan = Plan::new(args.quick);
    let protocol = Protocol::from_flag(args.http1);
    let runtime = multi_thread_runtime()?;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let markdown = runtime.block_on(async {
        let server = CannedServer::start(Shape::Bare).await?;
        eprintln!("acs-chat-bench: canned server at {}", server.endpoint());
        let mut out = String::new();
        let runs = |section| args.only.is_none_or(|only| only == section);
        if runs(Section::Overhead) {
            out.push_str(&overhead(&server, protocol, &plan, workers).await?);
        }
        if runs(Section::Paging) {
            out.push_str(&paging_section(&server, &plan).await?);
        }
        if runs(Section::Emulator) {
            out.push_str(&emulator_section(&server, protocol, &plan, !args.no_restart).await?);
        }
        if runs(Section::Events) {
            out.push_str(&events::section(&plan).await?);
        }
        eprintln!(
            "acs-chat-bench: the canned server answered {} requests",
            server.requests()
        );
        server.shutdown().await;
        Ok::<_, BoxError>(out)
    })?;
    print!("{markdown}");
    Ok(())
}

/// `drive --memory-calls N`: acs-chat over the in-memory transport, N calls one at a time
/// on a current-thread runtime (for `valgrind --tool=callgrind`).
fn drive_memory(op: Op, calls: u64) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let driver = client_driver(memory_thread()?, op);
        let started = std::time::Instant::now();
        for _ in 0..calls {
            driver().await?;
        }
        eprintln!(
            "{} over memory: {calls} calls, {:.2} µs per call",
            op.name(),
            started.elapsed().as_secs_f64() * 1e6 / calls.max(1) as f64
        );
        Ok(())
    })
}

/// The `parse` subcommand: a page of `messages` parsed `calls` times, by acs-chat-protocol or
/// (`baseline`) by `serde_json` into the plain types (for callgrind).
fn parse(messages: usize, calls: u64, baseline: bool) -> Result<(), BoxError> {
    use acs_chat_protocol::operations::ListChatMessages;

    let body = Bytes::from(fixtures::last_page(messages));
    let op = ListChatMessages::new(THREAD, Default::default());
    let started = std::time::Instant::now();
    for _ in 0..calls {
        if baseline {
            raw::decode_list(std::hint::black_box(&body))?;
        } else {
            parse_page(&op, &body)?;
        }
    }
    eprintln!(
        "parse of {messages} messages ({}): {calls} calls, {:.2} µs per call",
        if baseline {
            "baseline"
        } else {
            "acs-chat-protocol"
        },
        started.elapsed().as_secs_f64() * 1e6 / calls.max(1) as f64
    );
    Ok(())
}

/// `body` parsed as a list-messages 200 by acs-chat-protocol (kept from the optimizer).
fn parse_page(
    op: &acs_chat_protocol::operations::ListChatMessages,
    body: &Bytes,
) -> Result<(), BoxError> {
    use acs_chat_protocol::Operation as _;
    let mut response = http::Response::new(body.clone());
    *response.status_mut() = http::StatusCode::OK;
    std::hint::black_box(op.parse_response(std::hint::black_box(response))?);
    Ok(())
}

/// The page parsed by the SIMD crate `against` names into acs-chat-protocol's own models;
/// `None` for the baseline (which has types of its own).
fn parse_simd(
    against: Against,
    body: &[u8],
) -> Result<Option<acs_chat_protocol::models::ChatMessagesCollection>, BoxError> {
    Ok(match against {
        Against::Baseline => None,
        Against::SonicRs => Some(sonic_rs::from_slice(body)?),
        Against::SimdJson => Some(simd_json::serde::from_slice(&mut body.to_vec())?),
    })
}

/// The `parse-paired` subcommand: `rounds` rounds of `calls` parses of a page of `messages`
/// by acs-chat-protocol and as many by the baseline, back to back, the one that goes first
/// alternating from round to round. Prints the median over rounds of the baseline's time
/// divided by acs-chat-protocol's (our throughput over the baseline's): as in section 2, a
/// slow phase of the shared machine hits both halves of a round, and moves one round, not
/// the figure, where two benchmarks measured one after the other (criterion) drift apart.
fn parse_paired(
    messages: usize,
    rounds: usize,
    calls: u64,
    against: Against,
) -> Result<(), BoxError> {
    use acs_chat_protocol::models::ChatMessagesCollection;
    use acs_chat_protocol::operations::ListChatMessages;

    let body = Bytes::from(fixtures::last_page(messages));
    let op = ListChatMessages::new(THREAD, Default::default());
    let other = |body: &Bytes| -> Result<(), BoxError> {
        match parse_simd(against, body)? {
            Some(page) => {
                std::hint::black_box(page);
            }
            None => raw::decode_list(body)?,
        }
        Ok(())
    };
    if let Some(theirs) = parse_simd(against, &body)? {
        // The same models either way: the crates must agree with serde_json on them.
        let ours: ChatMessagesCollection = serde_json::from_slice(&body)?;
        if ours != theirs {
            return Err(format!("{against:?} parsed the page differently").into());
        }
    }
    let ours = || -> Result<Duration, BoxError> {
        let started = std::time::Instant::now();
        for _ in 0..calls {
            parse_page(&op, &body)?;
        }
        Ok(started.elapsed())
    };
    let baseline = || -> Result<Duration, BoxError> {
        let started = std::time::Instant::now();
        for _ in 0..calls {
            other(std::hint::black_box(&body))?;
        }
        Ok(started.elapsed())
    };
    // Warm-up (caches, allocator), not counted.
    ours()?;
    baseline()?;
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (ours, baseline) = if round % 2 == 0 {
            let ours = ours()?;
            (ours, baseline()?)
        } else {
            let baseline = baseline()?;
            (ours()?, baseline)
        };
        ratios.push(baseline.as_secs_f64() / ours.as_secs_f64().max(1e-12));
    }
    let median = load::median(ratios);
    println!(
        "paired-ratio={median:.4} rounds={rounds} calls={calls} bytes={}",
        body.len()
    );
    Ok(())
}

/// What `drive` runs (one variant, one point, for `perf record`, callgrind or strace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Raw,
    RawDecode,
    Transport,
    Client,
    Emulator,
    /// acs-chat against the canned server in [`Shape::Service`], with an emulator's token.
    ServiceShaped,
}

/// How `drive` runs.
#[derive(Debug)]
struct DriveSetup {
    in_flight: usize,
    budget: Budget,
    http1: bool,
    current_thread: bool,
    persisted: bool,
}

fn drive(op: Op, variant: Variant, setup: &DriveSetup) -> Result<(), BoxError> {
    let protocol = Protocol::from_flag(setup.http1);
    let in_flight = setup.in_flight;
    let runtime = if setup.current_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        multi_thread_runtime()?
    };
    let dir = tempfile::tempdir()?;
    let data_dir = setup.persisted.then(|| dir.path());
    runtime.block_on(async {
        let shape = if variant == Variant::ServiceShaped {
            Shape::Service
        } else {
            Shape::Bare
        };
        let server = CannedServer::start(shape).await?;
        let endpoint = server.endpoint();
        let mut running = None;
        let template = || match op {
            Op::SendMessage => raw::Template::send_message(endpoint),
            Op::ListMessages => raw::Template::list_messages(endpoint),
        };
        let driver = match variant {
            Variant::Emulator => {
                let (e, client) = start_emulator_in(protocol, data_dir).await?;
                running = Some(e);
                client_driver(emulator_thread(&client, op).await?, op)
            }
            Variant::Raw => raw_driver(raw::client(server.ca_pem(), protocol)?, template()?, None),
            Variant::RawDecode => raw_driver(
                raw::client(server.ca_pem(), protocol)?,
                template()?,
                Some(op.decode()),
            ),
            Variant::Transport => {
                transport_driver(transport(server.ca_pem(), protocol)?, template()?)
            }
            Variant::Client => client_driver(
                thread_client(endpoint, TOKEN, server.ca_pem(), protocol)?,
                op,
            ),
            Variant::ServiceShaped => {
                let token = emulator_token().await?;
                client_driver(
                    thread_client(endpoint, &token, server.ca_pem(), protocol)?,
                    op,
                )
            }
        };
        // One request first, so connection setup is not in the figures.
        load::round(&driver, 1, Budget::Count(1)).await?;
        let cpu_before = load::process_cpu();
        let stats = load::round(&driver, in_flight, setup.budget).await?;
        let cpu = load::process_cpu()
            .zip(cpu_before)
            .map(|(after, before)| after - before);
        eprintln!(
            "{variant:?} {} at {in_flight} in flight: {} requests, {} req/s, p50 {}, p99 {}",
            op.name(),
            stats.requests(),
            fmt_rps(stats.rps()),
            fmt_duration(stats.quantile(0.5)),
            fmt_duration(stats.quantile(0.99)),
        );
        // For `cargo xtask bench` (section 6): one line it reads.
        let requests = stats.requests().max(1) as f64;
        eprintln!(
            "drive-figures: rps={:.1} cpu_us_per_request={:.2}",
            stats.rps(),
            cpu.map_or(f64::NAN, |c| c.as_secs_f64() * 1e6 / requests),
        );
        server.shutdown().await;
        if let Some(e) = running {
            e.shutdown().await;
        }
        Ok(())
    })
}

/// acs-chat-transport's transport, limited to `protocol`, trusting `ca_pem`.
fn transport(ca_pem: &str, protocol: Protocol) -> Result<HyperTransport, BoxError> {
    let builder = HyperTransport::builder().add_root_certificate_pem(ca_pem.as_bytes())?;
    Ok(match protocol {
        Protocol::Http1 => builder.http1_only(),
        Protocol::Http2 => builder.http2_only(),
    }
    .build()?)
}

fn thread_client(
    endpoint: &str,
    token: &str,
    ca_pem: &str,
    protocol: Protocol,
) -> Result<ChatThreadClient, BoxError> {
    Ok(
        ChatClientBuilder::new(endpoint, CommunicationTokenCredential::new(token)?)
            .transport(transport(ca_pem, protocol)?)
            .build()?
            .chat_thread_client(THREAD),
    )
}

/// The two operations measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Op {
    SendMessage,
    ListMessages,
}

impl Op {
    const ALL: [Op; 2] = [Op::SendMessage, Op::ListMessages];

    fn name(self) -> &'static str {
        match self {
            Op::SendMessage => "send-message",
            Op::ListMessages => "list-messages",
        }
    }

    /// How the *raw+decode* variant decodes the response.
    fn decode(self) -> raw::Decode {
        match self {
            Op::SendMessage => raw::decode_send,
            Op::ListMessages => raw::decode_list,
        }
    }
}

/// acs-chat doing `op` on `thread`: `send_message`, or the first page of `list_messages`.
fn client_driver(thread: ChatThreadClient, op: Op) -> Driver {
    Arc::new(move || {
        let thread = thread.clone();
        Box::pin(async move {
            match op {
                Op::SendMessage => {
                    let id = thread
                        .send_message(SENT_CONTENT, SendChatMessageOptions::default())
                        .await?;
                    std::hint::black_box(id);
                }
                Op::ListMessages => {
                    let page = thread
                        .list_messages(
                            ListChatMessagesOptions::default().max_page_size(LIST_PAGE_SIZE as i32),
                        )
                        .into_pages()
                        .next()
                        .await
                        .ok_or("no page")??;
                    std::hint::black_box(page);
                }
            }
            Ok(())
        })
    })
}

/// acs-chat-transport's `HyperTransport` alone sending the template.
fn transport_driver(transport: HyperTransport, template: raw::Template) -> Driver {
    let shared = Arc::new((transport, template));
    Arc::new(move || {
        let shared = Arc::clone(&shared);
        Box::pin(async move { shared.1.send_transport(&shared.0).await })
    })
}

/// The bare client sending the template of `op`, and decoding the responses with `decode`
/// when there is one.
fn raw_driver(
    client: raw::RawClient,
    template: raw::Template,
    decode: Option<raw::Decode>,
) -> Driver {
    let shared = Arc::new((client, template));
    Arc::new(move || {
        let shared = Arc::clone(&shared);
        Box::pin(async move { shared.1.send(&shared.0, decode).await })
    })
}

fn version_name(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "unknown",
    }
}

fn fmt_rps(rps: f64) -> String {
    if rps >= 100.0 {
        format!("{rps:.0}")
    } else {
        format!("{rps:.1}")
    }
}

fn fmt_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

const IN_FLIGHT: [usize; 3] = [1, 16, 64];

/// Section 2.
async fn overhead(
    server: &CannedServer,
    protocol: Protocol,
    plan: &Plan,
    workers: usize,
) -> Result<String, BoxError> {
    let endpoint = server.endpoint();
    let differences = raw::verify(endpoint).await?;
    if !differences.is_empty() {
        return Err(format!(
            "the raw requests differ from acs-chat's: {}",
            differences.join("; ")
        )
        .into());
    }
    let raw_client = raw::client(server.ca_pem(), protocol)?;
    let hyper_transport = transport(server.ca_pem(), protocol)?;
    let thread = ChatClientBuilder::new(endpoint, CommunicationTokenCredential::new(TOKEN)?)
        .transport(hyper_transport.clone())
        .build()?
        .chat_thread_client(THREAD);

    // Which version each client really speaks: one probe through each.
    let probe = format!("{endpoint}/chat/threads/probe/messages");
    let raw_version = raw_client
        .request(
            Request::get(&probe)
                .body(http_body_util::Full::new(Bytes::new()))
                .map_err(|e| e.to_string())?,
        )
        .await?
        .version();
    let client_version = hyper_transport
        .send(Request::get(&probe).body(Bytes::new())?)
        .await?
        .version();

    let mut rows = String::new();
    let mut latency_rows = String::new();
    let mut targets = Vec::new();
    for op in Op::ALL {
        let template = || match op {
            Op::SendMessage => raw::Template::send_message(endpoint),
            Op::ListMessages => raw::Template::list_messages(endpoint),
        };
        let raw = raw_driver(raw_client.clone(), template()?, None);
        let raw_decode = raw_driver(raw_client.clone(), template()?, Some(op.decode()));
        let bare_transport = transport_driver(hyper_transport.clone(), template()?);
        let client = client_driver(thread.clone(), op);
        for in_flight in IN_FLIGHT {
            eprintln!(
                "acs-chat-bench: overhead {} at {in_flight} in flight",
                op.name()
            );
            let stats = load::alternate(
                &[&raw, &raw_decode, &bare_transport, &client],
                in_flight,
                plan.warm_up,
                plan.round,
                plan.rounds,
            )
            .await?;
            let [r, d, t, c] = <[Stats; 4]>::try_from(stats).map_err(|_| "four variants")?;
            let (rp99, cp99) = (r.quantile(0.99), c.quantile(0.99));
            let tput = load::paired_ratio(&c, &r);
            let pooled_p99 = ratio(cp99.as_secs_f64(), rp99.as_secs_f64());
            let p99 = load::paired_p99_ratio(&c, &r);
            let _ = writeln!(
                rows,
                "| {} | {in_flight} | {} | {} | {} | {} | **{tput:.3}** | {:.3} | {:.3} |",
                op.name(),
                fmt_rps(r.rps()),
                fmt_rps(d.rps()),
                fmt_rps(t.rps()),
                fmt_rps(c.rps()),
                load::paired_ratio(&c, &d),
                load::paired_ratio(&t, &r),
            );
            let decoded_p99 = load::paired_p99_ratio(&c, &d);
            let _ = writeln!(
                latency_rows,
                "| {} | {in_flight} | {} | {} | {} | {} | {} | **{p99:.2}** | {pooled_p99:.2} | {decoded_p99:.2} | {} / {} / {} / {} |",
                op.name(),
                fmt_duration(r.quantile(0.5)),
                fmt_duration(c.quantile(0.5)),
                fmt_duration(rp99),
                fmt_duration(d.quantile(0.99)),
                fmt_duration(cp99),
                r.requests(),
                d.requests(),
                t.requests(),
                c.requests(),
            );
            targets.push(Targets {
                op,
                in_flight,
                raw: (tput, p99),
                decoded: (load::paired_ratio(&c, &d), decoded_p99),
            });
        }
    }
    eprintln!("acs-chat-bench: overhead, CPU per call without IO");
    let cpu = cpu_breakdown(plan).await?;

    let mut s = String::from("## 2. Client overhead over raw hyper\n\n");
    let _ = writeln!(
        s,
        "acs-chat (`ChatThreadClient` over acs-chat-transport's `HyperTransport`) next to a bare \
         `hyper_util::client::legacy::Client` + `hyper_rustls::HttpsConnector` (same root \
         certificate, TCP_NODELAY), both against a canned HTTPS server on 127.0.0.1 \
         (tokio-rustls + hyper, precomputed bodies) in the same process, on a {workers}-worker \
         tokio runtime shared by clients and server. **HTTP version: {} for acs-chat and {} \
         for the raw client** (read from one response of each; both clients limited to {}, \
         one connection each{}).\n",
        version_name(client_version),
        version_name(raw_version),
        match protocol {
            Protocol::Http2 => "HTTP/2 (ALPN `h2`)",
            Protocol::Http1 => "HTTP/1.1",
        },
        match protocol {
            Protocol::Http2 => "",
            Protocol::Http1 => " per request in flight",
        },
    );
    let _ = writeln!(
        s,
        "The raw requests are built once with acs-chat-protocol's operations and `authorize`, plus \
         the `x-ms-client-request-id` and `User-Agent` headers acs-chat adds, and checked \
         against the requests acs-chat sends: same method, URI, headers (in order) and body, \
         apart from the request id's random value. Like acs-chat's, every raw request carries \
         a distinct request id (1024 UUID v4s made in advance, used in turn), so HTTP/2 header \
         compression treats both alike; the raw client pays nothing to make them. The raw \
         client only reads the response \
         bytes; acs-chat also generates the request id, builds, authorizes and parses \
         (send-message: `{{\"id\":…}}`; list-messages: a page of {LIST_PAGE_SIZE} messages, {:.1} KB, \
         into typed models, through the pager's `into_pages()`). Two more variants split the \
         difference: *raw+decode* is the raw client plus `serde_json` decoding each body into \
         plain structs of the same shape (section 1's baseline types: what any client must \
         spend to read the answer), and *transport* sends the raw requests through \
         acs-chat-transport's `HyperTransport` alone (no acs-chat, no parsing). Closed loop: \
         each of the N tasks in flight sends its next request when the previous one is \
         answered; {}.\n",
        fixtures::last_page(LIST_PAGE_SIZE).len() as f64 / 1000.0,
        plan.describe(),
    );
    s.push_str(
        "| operation | in flight | raw req/s | raw+decode req/s | transport req/s | client req/s | client/raw | client/(raw+decode) | transport/raw |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    s.push_str(&rows);
    s.push_str(
        "\n| operation | in flight | raw p50 | client p50 | raw p99 | raw+decode p99 | client p99 | p99 client/raw, paired | p99 client/raw, pooled | p99 client/(raw+decode), paired | requests raw / raw+decode / transport / client |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    s.push_str(&latency_rows);
    s.push('\n');
    s.push_str(&target_lines(&targets));
    s.push('\n');
    s.push_str(&cpu);
    if plan.quick {
        s.push_str("\n(`--quick`: tiny counts, dev profile; these numbers mean nothing.)\n");
    }
    s.push('\n');
    Ok(s)
}

/// One point of section 2 against the targets: (throughput ratio, p99 ratio) of the client
/// against raw and against raw+decode.
struct Targets {
    op: Op,
    in_flight: usize,
    raw: (f64, f64),
    decoded: (f64, f64),
}

impl Targets {
    /// The ratios the target is judged on: send-message against raw, list-messages against
    /// raw+decode.
    fn judged(&self) -> (f64, f64) {
        match self.op {
            Op::SendMessage => self.raw,
            Op::ListMessages => self.decoded,
        }
    }
}

/// The verdicts of section 2: send-message against raw, list-messages against raw+decode (a
/// list call decodes its page and raw does not: that is how the target is set), at every
/// number in flight; throughput ≥ 0.95, p99 ≤ 1.10.
fn target_lines(targets: &[Targets]) -> String {
    let mut s = String::new();
    for op in [Op::SendMessage, Op::ListMessages] {
        let points: Vec<&Targets> = targets.iter().filter(|t| t.op == op).collect();
        if points.is_empty() {
            continue;
        }
        let against = match op {
            Op::SendMessage => "raw",
            Op::ListMessages => "(raw+decode)",
        };
        let pick = Targets::judged;
        let join = |f: &dyn Fn(&Targets) -> String| {
            points.iter().map(|t| f(t)).collect::<Vec<_>>().join(" / ")
        };
        let levels = join(&|t| t.in_flight.to_string());
        let tput = join(&|t| format!("{:.3}", pick(t).0));
        let p99 = join(&|t| format!("{:.2}", pick(t).1));
        let _ = writeln!(
            s,
            "- {} at {levels} in flight: client/{against} throughput **{tput}** (target ≥ 0.95: \
             {}), p99 client/{against}, paired, **{p99}** (target ≤ 1.10: {}).",
            op.name(),
            verdict(points.iter().all(|t| pick(t).0 >= 0.95)),
            verdict(points.iter().all(|t| pick(t).1 <= 1.10)),
        );
    }
    s
}

/// Where acs-chat's CPU goes, without any IO: the whole call over an in-memory transport
/// that answers with the canned bytes, and acs-chat-protocol's parse alone, one call at a time.
async fn cpu_breakdown(plan: &Plan) -> Result<String, BoxError> {
    use acs_chat_protocol::Operation as _;
    use acs_chat_protocol::operations::{ListChatMessages, SendChatMessage};

    let list_body = Bytes::from(fixtures::last_page(LIST_PAGE_SIZE));
    let send_body = Bytes::from_static(fixtures::SEND_RESPONSE.as_bytes());
    let thread = memory_thread()?;
    let budget = if plan.quick {
        Duration::from_millis(10)
    } else {
        Duration::from_millis(250)
    };
    let mut rows = String::new();
    for op in Op::ALL {
        let whole = client_driver(thread.clone(), op);
        let body = match op {
            Op::SendMessage => (send_body.clone(), http::StatusCode::CREATED),
            Op::ListMessages => (list_body.clone(), http::StatusCode::OK),
        };
        let parse_only: Driver = Arc::new(move || {
            let mut response = http::Response::new(body.0.clone());
            *response.status_mut() = body.1;
            let parsed: Result<(), BoxError> = match op {
                Op::SendMessage => SendChatMessage::new(THREAD, SENT_CONTENT, Default::default())
                    .parse_response(response)
                    .map(|r| drop(std::hint::black_box(r)))
                    .map_err(Into::into),
                Op::ListMessages => ListChatMessages::new(THREAD, Default::default())
                    .parse_response(response)
                    .map(|r| drop(std::hint::black_box(r)))
                    .map_err(Into::into),
            };
            Box::pin(std::future::ready(parsed))
        });
        // Alternated like the throughput points; one call at a time.
        let (mut call, mut parse) = ((0, Duration::ZERO), (0, Duration::ZERO));
        for _ in 0..plan.rounds {
            let (n, t) = repeat(budget, &whole).await?;
            call = (call.0 + n, call.1 + t);
            let (n, t) = repeat(budget, &parse_only).await?;
            parse = (parse.0 + n, parse.1 + t);
        }
        let per_call = |(n, total): (u64, Duration)| total.as_secs_f64() / n.max(1) as f64;
        let (call, parse) = (per_call(call), per_call(parse));
        let _ = writeln!(
            rows,
            "| {} | {} | {} | {} |",
            op.name(),
            fmt_seconds(call),
            fmt_seconds(parse),
            fmt_seconds(call - parse),
        );
    }
    let mut s = String::from(
        "CPU per call without IO (one call at a time; acs-chat over an in-memory transport \
         that answers with the canned bytes, and acs-chat-protocol's `parse_response` alone on the \
         same bytes):\n\n\
         | operation | whole acs-chat call | of which parse_response | the rest (request id, build, authorize, pipeline) |\n\
         |---|---|---|---|\n",
    );
    s.push_str(&rows);
    Ok(s)
}

/// acs-chat over an in-memory transport that answers with the canned bytes (201 and the
/// send-message body for POST, 200 and the 20-message page otherwise).
fn memory_thread() -> Result<ChatThreadClient, BoxError> {
    let list_body = Bytes::from(fixtures::last_page(LIST_PAGE_SIZE));
    let send_body = Bytes::from_static(fixtures::SEND_RESPONSE.as_bytes());
    let memory = move |request: Request<Bytes>| {
        let (status, body) = if request.method() == http::Method::POST {
            (http::StatusCode::CREATED, send_body.clone())
        } else {
            (http::StatusCode::OK, list_body.clone())
        };
        async move {
            let mut response = http::Response::new(body);
            *response.status_mut() = status;
            Ok::<_, acs_chat_transport::TransportError>(response)
        }
    };
    Ok(ChatClientBuilder::new(
        "https://127.0.0.1:1",
        CommunicationTokenCredential::new(TOKEN)?,
    )
    .transport(memory)
    .build()?
    .chat_thread_client(THREAD))
}

/// Runs `driver` back to back, one call at a time, for `budget`; returns the calls made and
/// the time taken.
async fn repeat(budget: Duration, driver: &Driver) -> Result<(u64, Duration), BoxError> {
    let started = std::time::Instant::now();
    let mut n = 0;
    while started.elapsed() < budget {
        for _ in 0..16 {
            driver().await?;
            n += 1;
        }
    }
    Ok((n, started.elapsed()))
}

/// Seconds as µs with two decimals (negative when noise makes a difference negative).
fn fmt_seconds(s: f64) -> String {
    format!("{:.2} µs", s * 1e6)
}

/// Section 3.
async fn paging_section(server: &CannedServer, plan: &Plan) -> Result<String, BoxError> {
    let items = plan.pages * PAGING_PAGE_SIZE;
    let mut rows = String::new();
    let mut peaks = Vec::new();
    for variant in [
        paging::Variant::FirstPage,
        paging::Variant::Count,
        paging::Variant::Collect,
    ] {
        eprintln!("acs-chat-bench: paging, {variant:?}");
        let endpoint = server.endpoint().to_owned();
        let ca = server.ca_pem().to_owned();
        let pages = plan.pages;
        let report =
            tokio::task::spawn_blocking(move || paging::run_child(variant, &endpoint, &ca, pages))
                .await??;
        let expected = if variant == paging::Variant::FirstPage {
            PAGING_PAGE_SIZE
        } else {
            items
        };
        if report.items != expected {
            return Err(format!(
                "paging {variant:?}: {} items instead of {expected}",
                report.items
            )
            .into());
        }
        let mb = report.peak_kb.map(|kb| kb as f64 / 1024.0);
        let rate = report.items as f64 / report.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            rows,
            "| {} | {} | {} | {:.0} ms | {:.0} |",
            variant.describe(),
            report.items,
            mb.map_or_else(|| "n/a".to_owned(), |mb| format!("**{mb:.1} MB**")),
            report.elapsed.as_secs_f64() * 1000.0,
            rate,
        );
        peaks.push((variant, mb));
    }
    let peak = |v| peaks.iter().find(|(p, _)| *p == v).and_then(|(_, mb)| *mb);
    let mut s = String::from("## 3. Paging memory\n\n");
    let _ = writeln!(
        s,
        "{items} messages ({} pages of {PAGING_PAGE_SIZE}, each page with a nextLink to the next \
         on the canned server's origin, the last without) through `ChatThreadClient::list_messages` \
         (`ChatClient::builder` with the default transport). Each variant runs in its own child \
         process (this binary re-executed), which reports its peak resident memory (`VmHWM` of \
         `/proc/self/status`, read at the end while the items are still alive).\n",
        plan.pages
    );
    s.push_str("| variant | items | peak RSS | time | items/s |\n|---|---|---|---|---|\n");
    s.push_str(&rows);
    s.push('\n');
    match (peak(paging::Variant::Count), peak(paging::Variant::Collect)) {
        (Some(count), Some(collect)) => {
            let _ = writeln!(
                s,
                "- streaming {items} messages: peak **{count:.1} MB** (target < 30 MB: {}); \
                 collecting them: **{collect:.1} MB** ({:.1}× the streaming peak, {:.2} KB per \
                 message above it).",
                verdict(count < 30.0),
                collect / count,
                (collect - count) * 1024.0 / items as f64,
            );
        }
        _ => s.push_str("- peak memory is only read on Linux (`/proc/self/status`).\n"),
    }
    if plan.quick {
        s.push_str(
            "\n(`--quick`: 2 000 messages only; the target is about 100 000, so not judged here.)\n",
        );
    }
    s.push('\n');
    Ok(s)
}

/// Starts an emulator and a acs-chat for a user of it.
async fn start_emulator(protocol: Protocol) -> Result<(RunningEmulator, ChatClient), BoxError> {
    start_emulator_in(protocol, None).await
}

/// [`start_emulator`], persisted in `data_dir` when one is given.
async fn start_emulator_in(
    protocol: Protocol,
    data_dir: Option<&std::path::Path>,
) -> Result<(RunningEmulator, ChatClient), BoxError> {
    let mut builder = Emulator::builder().port(0);
    if let Some(dir) = data_dir {
        builder = builder.data_dir(dir);
    }
    let emulator = builder.start().await?;
    let ca = emulator
        .ca_certificate_pem()
        .ok_or("the emulator has no generated CA")?;
    let (_user, token) = emulator.create_user_and_token()?;
    let client = ChatClientBuilder::new(
        emulator.endpoint(),
        CommunicationTokenCredential::new(token)?,
    )
    .transport(transport(&ca, protocol)?)
    .build()?;
    Ok((emulator, client))
}

/// A token as the emulator mints them (the canned server does not check it, but its length
/// is part of every request's cost).
async fn emulator_token() -> Result<String, BoxError> {
    let emulator = Emulator::builder().port(0).start().await?;
    let (_user, token) = emulator.create_user_and_token()?;
    emulator.shutdown().await;
    Ok(token)
}

/// A new thread on the emulator for `op`: empty to send to, or with [`LIST_PAGE_SIZE`]
/// messages to list.
async fn emulator_thread(client: &ChatClient, op: Op) -> Result<ChatThreadClient, BoxError> {
    let id = client
        .create_chat_thread(
            format!("acs-chat-bench: {}", op.name()),
            CreateChatThreadOptions::default(),
        )
        .await?
        .thread
        .id;
    let thread = client.chat_thread_client(id);
    if op == Op::ListMessages {
        for i in 0..LIST_PAGE_SIZE {
            thread
                .send_message(
                    format!("Message number {i}: let's meet at noon to go over the open issues."),
                    SendChatMessageOptions::default()
                        .sender_display_name("Alex Smith")
                        .metadata("client", "web"),
                )
                .await?;
        }
    }
    Ok(thread)
}

/// Section 4.
async fn emulator_section(
    server: &CannedServer,
    protocol: Protocol,
    plan: &Plan,
    restart: bool,
) -> Result<String, BoxError> {
    let (emulator, emulator_client) = start_emulator(protocol).await?;
    let send_thread = emulator_thread(&emulator_client, Op::SendMessage).await?;
    let list_thread = emulator_thread(&emulator_client, Op::ListMessages).await?;
    let dir = tempfile::tempdir()?;
    let (persisted, persisted_client) = start_emulator_in(protocol, Some(dir.path())).await?;
    let persisted_send = emulator_thread(&persisted_client, Op::SendMessage).await?;
    let persisted_list = emulator_thread(&persisted_client, Op::ListMessages).await?;
    let canned = thread_client(server.endpoint(), TOKEN, server.ca_pem(), protocol)?;
    // The baseline: the same requests (the emulator's token) and the same response headers.
    let shaped_server = CannedServer::start(Shape::Service).await?;
    let (_user, emulator_token) = emulator.create_user_and_token()?;
    let shaped = thread_client(
        shaped_server.endpoint(),
        &emulator_token,
        shaped_server.ca_pem(),
        protocol,
    )?;

    let mut rows = String::new();
    let mut ratios = Vec::new();
    // send-message's CPU per request: canned, in memory, persisted.
    let mut send_cpu = [None; 3];
    for op in Op::ALL {
        eprintln!("acs-chat-bench: emulator {} at 64 in flight", op.name());
        let (memory_thread, persisted_thread) = match op {
            Op::SendMessage => (send_thread.clone(), persisted_send.clone()),
            Op::ListMessages => (list_thread.clone(), persisted_list.clone()),
        };
        let stats = load::alternate(
            &[
                &client_driver(shaped.clone(), op),
                &client_driver(memory_thread, op),
                &client_driver(persisted_thread, op),
                &client_driver(canned.clone(), op),
            ],
            64,
            plan.warm_up,
            plan.round,
            plan.rounds,
        )
        .await?;
        let [c, e, p, bare] = <[Stats; 4]>::try_from(stats).map_err(|_| "four variants")?;
        let r = load::paired_ratio(&e, &c);
        let rp = load::paired_ratio(&p, &c);
        let pm = load::paired_ratio(&p, &e);
        let (rb, rpb) = (load::paired_ratio(&e, &bare), load::paired_ratio(&p, &bare));
        let _ = writeln!(
            rows,
            "| {} | {} | {} | {} | {} | **{r:.2}** | **{rp:.2}** | {pm:.2} | {rb:.2} / {rpb:.2} | {} | {} | {} | {} | {} | {} |",
            op.name(),
            fmt_rps(c.rps()),
            fmt_rps(e.rps()),
            fmt_rps(p.rps()),
            fmt_rps(bare.rps()),
            fmt_duration(c.quantile(0.5)),
            fmt_duration(e.quantile(0.5)),
            fmt_duration(p.quantile(0.5)),
            fmt_duration(c.quantile(0.99)),
            fmt_duration(e.quantile(0.99)),
            fmt_duration(p.quantile(0.99)),
        );
        ratios.push((op, r, rp));
        if op == Op::SendMessage {
            send_cpu = [&c, &e, &p].map(Stats::cpu_per_request);
        }
    }
    emulator.shutdown().await;
    persisted.shutdown().await;
    shaped_server.shutdown().await;
    eprintln!("acs-chat-bench: SQLite alone");
    let floor = persistence::sqlite_floor(dir.path(), plan.quick)?;

    let mut s = String::from("## 4. Emulator\n\n");
    let _ = writeln!(
        s,
        "acs-chat at 64 requests in flight against the emulator (in-process, TLS, \
         `Emulator::builder().port(0)`, in memory and persisted with `.data_dir(..)` in a \
         temporary directory) and against the canned server, same process, same \
         transport settings ({}), {}. send-message posts to one thread (which grows); \
         list-messages reads the first page (`maxPageSize` {LIST_PAGE_SIZE}) of a thread of \
         {LIST_PAGE_SIZE} messages plus the ones thread creation adds.\n\n\
         The baseline (*canned*) is the canned server answering with the service's response \
         headers (`x-ms-request-id`, `MS-CV`, the echoed `x-ms-client-request-id`, `Location`; \
         fixed values) to a client holding a token the emulator minted (~490 characters), so \
         that both sides carry the same bytes and the ratio is the emulator's own work. \
         *Bare* is the canned server of the other sections (`Content-Type` only, a \
         68-character token), shown for comparison with earlier runs.\n",
        match protocol {
            Protocol::Http2 => "HTTP/2",
            Protocol::Http1 => "HTTP/1.1",
        },
        plan.describe(),
    );
    s.push_str(
        "| operation | canned req/s | in memory req/s | persisted req/s | bare canned req/s | memory/canned | persisted/canned | persisted/memory | memory / persisted over bare | canned p50 | memory p50 | persisted p50 | canned p99 | memory p99 | persisted p99 |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    s.push_str(&rows);
    s.push('\n');
    for (op, r, rp) in ratios {
        let _ = writeln!(
            s,
            "- {}: emulator/canned **{r:.2}** in memory, **{rp:.2}** persisted (target ≥ 0.8: {}, {}).",
            op.name(),
            verdict(r >= 0.8),
            verdict(rp >= 0.8)
        );
    }
    s.push_str(&persistence::floor_lines(send_cpu, &floor));
    if restart {
        s.push_str(&persistence::restart_section(plan, protocol).await?);
    }
    if plan.quick {
        s.push_str("\n(`--quick`: tiny counts, dev profile; these numbers mean nothing.)\n");
    }
    s.push('\n');
    Ok(s)
}
