//! `cargo xtask codegen --spec <dir> [--identity-spec <dir>] [--check]`: generates the
//! `acs-chat-protocol` wire models and every operation from the official OpenAPI (Swagger 2.0)
//! specs.
//!
//! Input:
//! - Chat: `<spec>/2025-03-15/communicationserviceschat.json` (the default api-version) plus the
//!   `Common` definitions it references, merged with what only `2024-03-15-preview` has (the image
//!   operations, `UploadChatImageResult`, attachments on send/update).
//! - Identity: `<identity-spec>/2023-10-01/CommunicationIdentity.json` (the version the official
//!   SDKs send); `<identity-spec>` defaults to `acs-identity-spec` beside `<spec>`.
//!
//! Output, rustfmt-formatted, under `crates/acs-chat-protocol/src/generated/`:
//! - `models.rs`, `identity_models.rs`: the wire models (`model.rs` here);
//! - `operations.rs`, `identity_operations.rs`: per operation its spec facts (`OperationInfo`),
//!   its value type with typed path, query, header and body parameters, the options type with
//!   every optional parameter, request building and response parsing with the spec's success
//!   statuses (`ops.rs` here).
//!
//! `--check` compares instead of writing and fails when the checked-in files are stale.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

mod model;
mod ops;

use model::Model;

const PRIMARY: &str = "2025-03-15";
const PREVIEW: &str = "2024-03-15-preview";
const IDENTITY: &str = "2023-10-01";

/// What one service's generation needs beyond its spec files.
pub(crate) struct Service {
    /// The source line of the generated files' header.
    source: &'static str,
    /// Definitions not generated: the ARM-style error of the image operations has the same
    /// `{"error": {"code", "message", "details"}}` shape as `CommunicationErrorResponse`, which the
    /// protocol crate's single error parser reads; `ChatImageFile` is a raw binary body (`Bytes`).
    skipped: &'static [&'static str],
    /// Definitions replaced by a hand-written type: the identifier model is exposed as the
    /// ergonomic `CommunicationIdentifier`, which (de)serializes to the same wire shape.
    handwritten: &'static [(&'static str, &'static str)],
    /// Rust names for operations whose id alone is too terse (`CommunicationIdentity_Create`).
    op_names: &'static [(&'static str, &'static str)],
    /// POST operations that are idempotent although the method is not: repeating them cannot
    /// act twice. The spec cannot say this; each entry is a documented service behaviour.
    idempotent_posts: &'static [&'static str],
    /// Where the models of this service live (for the operations file's imports).
    models_path: &'static str,
}

const CHAT: Service = Service {
    source: "the ACS Chat OpenAPI spec (api-version 2025-03-15, merged with 2024-03-15-preview)",
    skipped: &[
        "ErrorResponse",
        "Error",
        "ErrorDetail",
        "ChatImageFile",
        // The identifier's members: `CommunicationIdentifier` reads and writes them itself.
        "CommunicationUserIdentifierModel",
        "PhoneNumberIdentifierModel",
        "MicrosoftTeamsUserIdentifierModel",
        "MicrosoftTeamsAppIdentifierModel",
        "TeamsExtensionUserIdentifierModel",
    ],
    handwritten: &[("CommunicationIdentifierModel", "CommunicationIdentifier")],
    op_names: &[],
    idempotent_posts: &[],
    models_path: "super::models",
};

const IDENTITY_SERVICE: Service = Service {
    source: "the ACS Identity OpenAPI spec (api-version 2023-10-01)",
    skipped: &[],
    handwritten: &[],
    op_names: &[
        ("CommunicationIdentity_Create", "CreateUser"),
        ("CommunicationIdentity_Delete", "DeleteUser"),
    ],
    // Revoking a user's tokens twice revokes them once (the spec's 204 has no body).
    idempotent_posts: &["CommunicationIdentity_RevokeAccessTokens"],
    models_path: "super::identity_models",
};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let usage = "usage: cargo xtask codegen --spec <dir> [--identity-spec <dir>] [--check]";
    let spec_dir = crate::flag_value(args, "--spec").ok_or_else(|| anyhow!(usage))?;
    let identity_dir = match crate::flag_value(args, "--identity-spec") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(spec_dir)
            .parent()
            .unwrap_or(Path::new("."))
            .join("acs-identity-spec"),
    };
    let check = crate::has_flag(args, "--check");
    let files = generate(Path::new(spec_dir), &identity_dir)?;
    let root = crate::workspace_root();
    let mut stale = Vec::new();
    for (rel, contents) in &files {
        let path = root.join(rel);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == *contents {
            continue;
        }
        if check {
            stale.push(rel.clone());
        } else {
            std::fs::create_dir_all(path.parent().expect("generated files have a parent"))?;
            std::fs::write(&path, contents).with_context(|| format!("writing {rel}"))?;
            println!("wrote {rel}");
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated code is stale: {} (run `cargo xtask codegen --spec {spec_dir}`)",
            stale.join(", ")
        );
    }
    if check {
        println!("ok: generated code is up to date ({} files)", files.len());
    }
    Ok(())
}

const OUT: &str = "crates/acs-chat-protocol/src/generated";

/// Generates every output file: (path relative to the workspace root, formatted contents).
pub(crate) fn generate(
    spec_dir: &Path,
    identity_dir: &Path,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut loader = Loader::default();
    let primary = spec_dir
        .join(PRIMARY)
        .join("communicationserviceschat.json");
    let preview = spec_dir
        .join(PREVIEW)
        .join("communicationserviceschat.json");
    let mut chat = Model::new(&CHAT);
    chat.collect(&mut loader, &primary, false)?;
    chat.collect(&mut loader, &preview, true)?;
    let chat_ops = ops::collect(
        &mut loader,
        &mut chat,
        &[(&primary, false), (&preview, true)],
    )?;

    let identity = identity_dir
        .join(IDENTITY)
        .join("CommunicationIdentity.json");
    let mut id_model = Model::new(&IDENTITY_SERVICE);
    id_model.collect(&mut loader, &identity, false)?;
    let id_ops = ops::collect(&mut loader, &mut id_model, &[(&identity, false)])?;

    Ok(vec![
        (format!("{OUT}/models.rs"), rustfmt(&chat.emit())?),
        (
            format!("{OUT}/operations.rs"),
            rustfmt(&ops::emit(&CHAT, &chat, &chat_ops))?,
        ),
        (
            format!("{OUT}/identity_models.rs"),
            rustfmt(&id_model.emit())?,
        ),
        (
            format!("{OUT}/identity_operations.rs"),
            rustfmt(&ops::emit(&IDENTITY_SERVICE, &id_model, &id_ops))?,
        ),
    ])
}

fn header(service: &Service) -> String {
    format!(
        "// @generated by `cargo xtask codegen`, do not edit.\n// Source: {}.\n",
        service.source
    )
}

#[derive(Default)]
pub(crate) struct Loader {
    files: BTreeMap<PathBuf, Value>,
}

impl Loader {
    fn load(&mut self, path: &Path) -> anyhow::Result<&Value> {
        let key = normalize(path);
        if !self.files.contains_key(&key) {
            let json = crate::read_json(&key)?;
            self.files.insert(key.clone(), json);
        }
        Ok(&self.files[&key])
    }

    fn definition(&mut self, file: &Path, name: &str) -> anyhow::Result<Value> {
        self.load(file)?
            .get("definitions")
            .and_then(|d| d.get(name))
            .cloned()
            .ok_or_else(|| anyhow!("definition {name} not found in {}", file.display()))
    }
}

/// Resolves `a/./b/../c` without touching the file system (the spec uses `../../../Common/...`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A `$ref` resolved to (file, definition name).
fn resolve_ref(base: &Path, reference: &str) -> anyhow::Result<(PathBuf, String)> {
    let (file, pointer) = reference
        .split_once('#')
        .ok_or_else(|| anyhow!("unsupported $ref {reference}"))?;
    let name = pointer
        .strip_prefix("/definitions/")
        .ok_or_else(|| anyhow!("unsupported $ref {reference}"))?;
    let file = if file.is_empty() {
        normalize(base)
    } else if let Some(idx) = file.find("Common/") {
        // The spec repository keeps `Chat/stable/<version>/` and `Common/` further apart than
        // the spec folder we read, so Common references resolve against the nearest ancestor
        // folder that has a `Common/` child.
        let root = base
            .ancestors()
            .find(|a| a.join("Common").is_dir())
            .ok_or_else(|| anyhow!("no Common/ folder above {}", base.display()))?;
        normalize(&root.join(&file[idx..]))
    } else {
        normalize(&base.parent().unwrap_or(Path::new(".")).join(file))
    };
    Ok((file, name.to_string()))
}

/// The string `key` of a spec object, or `""`.
fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `chatThreadId` → `chat_thread_id`; `repeatability-request-id` → `repeatability_request_id`;
/// `type` → `kind`.
fn field_name(wire: &str) -> String {
    if wire == "type" {
        return "kind".into();
    }
    let mut out = String::new();
    for (i, c) in wire.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// `threadCreationDate` → `ThreadCreationDate`.
fn variant_name(value: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

fn doc_lines(out: &mut String, doc: &str) {
    let doc = doc.trim();
    let doc = if doc.is_empty() {
        "(no description in the spec)"
    } else {
        doc
    };
    for line in doc.lines() {
        let line = line.replace('[', "\\[").replace(']', "\\]");
        let _ = writeln!(out, "/// {line}");
    }
}

fn rustfmt(source: &str) -> anyhow::Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (is the rustfmt component installed?)")?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(source.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "rustfmt failed on generated code:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}
