//! The operations: for each one of the spec, its facts (`OperationInfo`), a value type with its
//! typed parameters, an options type with its optional parameters, request building and response
//! parsing.
//!
//! Rules (what the generated code does, and why):
//! - Path, query and header parameters become fields; required ones are arguments of `new`,
//!   optional ones are fields of the options type. `api-version` comes from the request context.
//! - A JSON body whose schema is an object model is flattened: its required fields are arguments
//!   of `new` (in the spec's `required` order), its optional fields are options. A body whose
//!   schema is not an object model (an identifier, binary data) is one required argument. An
//!   optional body is sent only when one of its fields is set.
//! - Paths are written segment by segment (no template is parsed at run time); every path
//!   parameter is percent-encoded as exactly one non-empty segment.
//! - The success statuses are the spec's 2xx responses; any other 2xx is an error that keeps the
//!   body (`ErrorKind::UnexpectedStatus`), a non-2xx is a service error.
//! - An operation with a `repeatability-request-id` header is idempotent when the id is set (the
//!   header's documented meaning); a POST is otherwise not idempotent, except for those the
//!   service's `idempotent_posts` names.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde_json::{Map, Value};

use super::model::{Def, Field, Model, Ty};
use super::{Loader, Service, doc_lines, field_name, header, resolve_ref, text};

/// Where a parameter goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Loc {
    Path,
    Query,
    Header,
}

#[derive(Debug)]
struct Param {
    wire: String,
    rust: String,
    loc: Loc,
    ty: Ty,
    required: bool,
    doc: String,
}

#[derive(Debug)]
enum Body {
    /// An object model: required fields are arguments, optional ones options.
    Flattened {
        model: String,
        required: bool,
        doc: String,
    },
    /// One value: an identifier, or binary data.
    Whole { rust: String, ty: Ty, doc: String },
}

#[derive(Debug)]
enum Output {
    Unit,
    Json(String),
    Page(String),
    Image,
}

#[derive(Debug)]
pub(super) struct Operation {
    id: String,
    rust: String,
    method: String,
    path: String,
    summary: String,
    consumes: Option<String>,
    accept: String,
    success: Vec<u16>,
    preview_only: bool,
    params: Vec<Param>,
    body: Option<Body>,
    output: Output,
    idempotent_post: bool,
}

impl Operation {
    fn const_name(&self) -> String {
        field_name(&self.rust).to_uppercase()
    }

    fn options_name(&self) -> String {
        format!("{}Options", self.rust)
    }

    fn pageable(&self) -> bool {
        matches!(self.output, Output::Page(_))
    }

    fn has_repeatability(&self) -> bool {
        self.params
            .iter()
            .any(|p| p.wire.eq_ignore_ascii_case("repeatability-request-id"))
    }
}

/// Collects every operation of `specs` (a later spec adds only the operations the earlier ones
/// lack, marked preview-only when its flag says so), sorted by operation id.
pub(super) fn collect(
    loader: &mut Loader,
    model: &mut Model,
    specs: &[(&Path, bool)],
) -> anyhow::Result<Vec<Operation>> {
    let mut ops: Vec<Operation> = Vec::new();
    for (spec, preview_only) in specs {
        let spec = super::normalize(spec);
        let root = loader.load(&spec)?.clone();
        let paths = root
            .get("paths")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(Map::new);
        for (path, methods) in &paths {
            let Some(methods) = methods.as_object() else {
                continue;
            };
            for (method, op) in methods {
                let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                    continue;
                };
                if ops.iter().any(|o| o.id == id) {
                    continue;
                }
                let operation = operation(loader, model, &spec, &root, id, method, path, op)
                    .with_context(|| format!("operation {id}"))?;
                ops.push(Operation {
                    preview_only: *preview_only,
                    ..operation
                });
            }
        }
    }
    ops.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(ops)
}

#[allow(clippy::too_many_arguments)]
fn operation(
    loader: &mut Loader,
    model: &mut Model,
    spec: &Path,
    root: &Value,
    id: &str,
    method: &str,
    path: &str,
    op: &Value,
) -> anyhow::Result<Operation> {
    let service = model.service();
    let rust = service
        .op_names
        .iter()
        .find(|(op_id, _)| *op_id == id)
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| id.rsplit('_').next().unwrap_or(id).to_string());
    let mut params = Vec::new();
    let mut body = None;
    for p in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let p = match p.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r
                    .strip_prefix("#/parameters/")
                    .ok_or_else(|| anyhow!("unsupported parameter $ref {r}"))?;
                root.pointer(&format!("/parameters/{name}"))
                    .cloned()
                    .ok_or_else(|| anyhow!("parameter {name} not found"))?
            }
            None => p.clone(),
        };
        let wire = text(&p, "name");
        let location = text(&p, "in");
        let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
        let doc = text(&p, "description");
        let loc = match location.as_str() {
            "path" => Loc::Path,
            "query" if wire == "api-version" => continue,
            "query" => Loc::Query,
            "header" => Loc::Header,
            "body" => {
                body = Some(body_of(loader, model, spec, &p, required, doc)?);
                continue;
            }
            other => bail!("unsupported parameter location {other}"),
        };
        let ty = model.ty(loader, spec, &p, false)?;
        params.push(Param {
            rust: field_name(&wire),
            wire,
            loc,
            ty,
            required: required || loc == Loc::Path,
            doc,
        });
    }
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut success: Vec<u16> = responses
        .keys()
        .filter_map(|k| k.parse::<u16>().ok())
        .filter(|s| (200..300).contains(s))
        .collect();
    success.sort_unstable();
    let first = success
        .first()
        .and_then(|s| responses.get(&s.to_string()))
        .cloned()
        .unwrap_or(Value::Null);
    let output = match first.pointer("/schema/$ref").and_then(Value::as_str) {
        None => Output::Unit,
        Some(reference) => {
            let (file, name) = resolve_ref(spec, reference)?;
            let def = loader.definition(&file, &name)?;
            if def.get("format").and_then(Value::as_str) == Some("binary") {
                Output::Image
            } else if let Some(pageable) = op.get("x-ms-pageable") {
                let item_name = pageable
                    .get("itemName")
                    .and_then(Value::as_str)
                    .unwrap_or("value");
                let items = def
                    .pointer(&format!("/properties/{item_name}/items"))
                    .cloned()
                    .ok_or_else(|| anyhow!("pageable {name} has no `{item_name}` array"))?;
                Output::Page(model.ty(loader, &file, &items, false)?.rust())
            } else {
                Output::Json(model.define(loader, &file, &name, false)?)
            }
        }
    };
    let produces: Vec<String> = op
        .get("produces")
        .or_else(|| root.get("produces"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_else(|| vec!["application/json".to_string()]);
    Ok(Operation {
        id: id.to_string(),
        idempotent_post: service.idempotent_posts.contains(&id),
        rust,
        method: method.to_uppercase(),
        path: path.to_string(),
        summary: text(op, "summary"),
        consumes: op
            .get("consumes")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
            .and_then(Value::as_str)
            .map(str::to_string),
        accept: produces.join(", "),
        success,
        preview_only: false,
        params,
        body,
        output,
    })
}

fn body_of(
    loader: &mut Loader,
    model: &mut Model,
    spec: &Path,
    param: &Value,
    required: bool,
    doc: String,
) -> anyhow::Result<Body> {
    let reference = param
        .pointer("/schema/$ref")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("a body without a $ref schema"))?;
    let (file, name) = resolve_ref(spec, reference)?;
    let def = loader.definition(&file, &name)?;
    let ty = if def.get("format").and_then(Value::as_str) == Some("binary") {
        Ty::Bytes
    } else {
        model.ty(loader, spec, &param["schema"], false)?
    };
    let is_object = def.get("properties").is_some();
    let rust_name = match &ty {
        Ty::Named(n) => n.clone(),
        _ => String::new(),
    };
    if is_object && matches!(model.defs.get(&rust_name), Some(Def::Struct { .. })) {
        Ok(Body::Flattened {
            model: rust_name,
            required,
            doc,
        })
    } else {
        if !required {
            bail!("an optional body that is not an object model");
        }
        Ok(Body::Whole {
            rust: field_name(&text(param, "name")),
            ty,
            doc,
        })
    }
}

/// The fields of a flattened body's model.
fn body_fields<'a>(model: &'a Model, name: &str) -> &'a [Field] {
    match model.defs.get(name) {
        Some(Def::Struct { fields, .. }) => fields,
        _ => &[],
    }
}

/// An argument type of `new`: strings and `Bytes` by `impl Into`.
fn arg_type(ty: &Ty) -> String {
    match ty {
        Ty::String => "impl Into<String>".into(),
        Ty::Bytes => "impl Into<Bytes>".into(),
        other => other.rust(),
    }
}

/// A field initialiser from the argument of the same name.
fn init_from_arg(name: &str, ty: &Ty) -> String {
    match ty {
        Ty::String | Ty::Bytes => format!("{name}: {name}.into()"),
        _ => name.to_string(),
    }
}

/// An optional value's setter on an options type.
fn setter(out: &mut String, name: &str, ty: &Ty) {
    match ty {
        Ty::String => {
            let _ = writeln!(
                out,
                "\n/// Sets [`{name}`](Self::{name}).\npub fn {name}(mut self, value: impl Into<String>) -> Self {{ self.{name} = Some(value.into()); self }}"
            );
        }
        Ty::Map => {
            let _ = writeln!(
                out,
                "\n/// Adds one entry to [`{name}`](Self::{name}).\npub fn {name}(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {{ self.{name}.get_or_insert_with(BTreeMap::new).insert(key.into(), value.into()); self }}"
            );
        }
        Ty::Vec(item) => {
            let _ = writeln!(
                out,
                "\n/// Sets [`{name}`](Self::{name}).\npub fn {name}(mut self, values: impl IntoIterator<Item = {}>) -> Self {{ self.{name} = Some(values.into_iter().collect()); self }}",
                item.rust()
            );
        }
        other => {
            let _ = writeln!(
                out,
                "\n/// Sets [`{name}`](Self::{name}).\npub fn {name}(mut self, value: {}) -> Self {{ self.{name} = Some(value); self }}",
                other.rust()
            );
        }
    }
}

/// One optional value of an operation: from a parameter or a body field.
struct Optional<'a> {
    rust: &'a str,
    ty: &'a Ty,
    doc: &'a str,
}

fn optionals<'a>(op: &'a Operation, model: &'a Model) -> Vec<Optional<'a>> {
    let mut out: Vec<Optional<'a>> = op
        .params
        .iter()
        .filter(|p| !p.required)
        .map(|p| Optional {
            rust: &p.rust,
            ty: &p.ty,
            doc: &p.doc,
        })
        .collect();
    if let Some(Body::Flattened { model: name, .. }) = &op.body {
        out.extend(
            body_fields(model, name)
                .iter()
                .filter(|f| !f.required)
                .map(|f| Optional {
                    rust: &f.rust,
                    ty: &f.ty,
                    doc: &f.doc,
                }),
        );
    }
    out
}

pub(super) fn emit(service: &Service, model: &Model, ops: &[Operation]) -> String {
    let mut out = header(service);
    let _ = writeln!(
        out,
        "\n//! Every operation: its spec facts, its parameters, its options, request building and \
         response parsing.\n\n#![allow(unused_imports)]\n\nuse std::collections::BTreeMap;\n\nuse \
         bytes::Bytes;\nuse http::{{Request, Response}};\n\nuse {}::*;\nuse \
         crate::image::ChatImage;\nuse crate::operation::{{RequestBuilder, parse_empty, \
         parse_image, parse_json, parse_page}};\nuse crate::{{CommunicationIdentifier, DateTime, Error, \
         Idempotency, NextPage, Operation, OperationInfo, Page, RequestContext}};",
        service.models_path
    );
    emit_table(&mut out, ops);
    for op in ops {
        emit_operation(&mut out, model, op);
    }
    out
}

fn emit_table(out: &mut String, ops: &[Operation]) {
    out.push_str(
        "\n/// The operation table: method, path template, media types and success statuses of \
         every operation, as the spec gives them.\npub mod table {\nuse http::Method;\n\nuse \
         crate::OperationInfo;\n",
    );
    for op in ops {
        let _ = writeln!(out, "\n/// `{}`: {}", op.id, op.summary);
        let consumes = op
            .consumes
            .as_ref()
            .map(|c| format!("Some(\"{c}\")"))
            .unwrap_or_else(|| "None".into());
        let success: Vec<String> = op.success.iter().map(u16::to_string).collect();
        let _ = writeln!(
            out,
            "pub const {}: OperationInfo = OperationInfo {{ id: \"{}\", method: Method::{}, path: \
             \"{}\", content_type: {consumes}, accept: \"{}\", success: &[{}], pageable: {}, \
             preview_only: {} }};",
            op.const_name(),
            op.id,
            op.method,
            op.path,
            op.accept,
            success.join(", "),
            op.pageable(),
            op.preview_only
        );
    }
    let names: Vec<String> = ops.iter().map(Operation::const_name).collect();
    let _ = writeln!(
        out,
        "\n/// Every operation, sorted by operation id.\npub const ALL: &[OperationInfo] = &[{}];\n}}",
        names.join(", ")
    );
}

fn output_type(op: &Operation) -> String {
    match &op.output {
        Output::Unit => "()".into(),
        Output::Json(t) => t.clone(),
        Output::Page(t) => format!("Page<{t}>"),
        Output::Image => "ChatImage".into(),
    }
}

fn emit_operation(out: &mut String, model: &Model, op: &Operation) {
    let optionals = optionals(op, model);
    let options = op.options_name();
    let has_options = !optionals.is_empty();

    // The value type.
    let _ = writeln!(out, "\n/// `{}`: {}\n///", op.id, op.summary);
    let mut facts = format!(
        "`{} {}`, success {}.",
        op.method,
        op.path,
        op.success
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if op.preview_only {
        facts.push_str(" Only in api-version 2024-03-15-preview.");
    }
    doc_lines(out, &facts);
    if has_options {
        let _ = writeln!(
            out,
            "///\n/// Made by [`{0}::new`] from the required parameters and a [`{options}`].",
            op.rust
        );
    }
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone)]\n#[non_exhaustive]\npub struct {} {{",
        op.rust
    );
    for p in &op.params {
        doc_lines(out, &p.doc);
        let ty = p.ty.rust();
        if p.required {
            let _ = writeln!(out, "pub {}: {ty},", p.rust);
        } else {
            let _ = writeln!(out, "pub {}: Option<{ty}>,", p.rust);
        }
    }
    match &op.body {
        Some(Body::Flattened {
            model: m,
            required,
            doc,
        }) => {
            doc_lines(out, doc);
            if *required {
                let _ = writeln!(out, "pub body: {m},");
            } else {
                out.push_str("///\n/// `None` sends no body.\n");
                let _ = writeln!(out, "pub body: Option<{m}>,");
            }
        }
        Some(Body::Whole { rust, ty, doc }) => {
            doc_lines(out, doc);
            let _ = writeln!(out, "pub {rust}: {},", ty.rust());
        }
        None => {}
    }
    out.push_str("}\n");

    // Constructor and next page.
    let _ = writeln!(
        out,
        "\nimpl {} {{\n/// The operation's facts from the spec.\npub const INFO: &'static OperationInfo = &table::{};",
        op.rust,
        op.const_name()
    );
    let mut args: Vec<String> = Vec::new();
    let mut inits: Vec<String> = Vec::new();
    for p in &op.params {
        if p.required {
            args.push(format!("{}: {}", p.rust, arg_type(&p.ty)));
            inits.push(init_from_arg(&p.rust, &p.ty));
        } else {
            inits.push(format!("{0}: options.{0}", p.rust));
        }
    }
    let mut prelude = String::new();
    match &op.body {
        Some(Body::Flattened {
            model: m, required, ..
        }) => {
            let mut fields = Vec::new();
            for f in body_fields(model, m) {
                if f.required {
                    args.push(format!("{}: {}", f.rust, arg_type(&f.ty)));
                    fields.push(init_from_arg(&f.rust, &f.ty));
                } else {
                    fields.push(format!("{0}: options.{0}", f.rust));
                }
            }
            let _ = writeln!(prelude, "let body = {m} {{ {} }};", fields.join(", "));
            if *required {
                inits.push("body".into());
            } else {
                inits.push(format!("body: (body != {m}::default()).then_some(body)"));
            }
        }
        Some(Body::Whole { rust, ty, .. }) => {
            args.push(format!("{rust}: {}", arg_type(ty)));
            inits.push(init_from_arg(rust, ty));
        }
        None => {}
    }
    if has_options {
        args.push(format!("options: {options}"));
    }
    let doc = if has_options {
        "The operation, from its required parameters and its options."
    } else {
        "The operation, from its parameters."
    };
    let _ = writeln!(
        out,
        "\n/// {doc}\npub fn new({}) -> Self {{\n{prelude}Self {{ {} }}\n}}",
        args.join(", "),
        inits.join(", ")
    );
    if let Output::Page(item) = &op.output {
        let _ = writeln!(
            out,
            "\n/// The operation that fetches the page at `next_link` of this list.\npub fn next_page(next_link: impl Into<String>) -> NextPage<{item}> {{ NextPage::new(Self::INFO, next_link) }}"
        );
    }
    out.push_str("}\n");

    // The options type.
    if has_options {
        let _ = writeln!(
            out,
            "\n/// The optional parameters of [`{0}`], and of the client method that runs it. \
             Unset values are not sent.\n#[derive(Debug, Clone, Default, PartialEq, Eq)]\n#[non_exhaustive]\npub struct {options} {{",
            op.rust
        );
        for o in &optionals {
            doc_lines(out, o.doc);
            let _ = writeln!(out, "pub {}: Option<{}>,", o.rust, o.ty.rust());
        }
        let _ = writeln!(out, "}}\n\nimpl {options} {{");
        for o in &optionals {
            setter(out, o.rust, o.ty);
        }
        out.push_str("}\n");
    }

    // The Operation impl.
    let _ = writeln!(
        out,
        "\nimpl Operation for {} {{\ntype Output = {};\n\nfn info(&self) -> &'static OperationInfo {{ Self::INFO }}\n\nfn build_request(&self, ctx: &RequestContext) -> Result<Request<Bytes>, Error> {{\nlet mut r = RequestBuilder::new(ctx, Self::INFO);",
        op.rust,
        output_type(op)
    );
    let mut rest = op.path.as_str();
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
        let name = &rest[start + 1..end];
        if start > 0 {
            let _ = writeln!(out, "r.literal(\"{}\");", &rest[..start]);
        }
        let param = op.params.iter().find(|p| p.wire == name);
        let value = match param.map(|p| &p.ty) {
            Some(Ty::Named(_)) => format!("self.{}.as_str()", field_name(name)),
            _ => format!("&self.{}", field_name(name)),
        };
        let _ = writeln!(out, "r.segment(\"{name}\", {value})?;");
        rest = &rest[(end + 1).min(rest.len())..];
    }
    if !rest.is_empty() {
        let _ = writeln!(out, "r.literal(\"{rest}\");");
    }
    for p in op.params.iter().filter(|p| p.loc == Loc::Query) {
        if p.required {
            let _ = writeln!(out, "r.query(\"{}\", Some(&self.{}));", p.wire, p.rust);
        } else {
            let _ = writeln!(out, "r.query(\"{}\", self.{}.as_ref());", p.wire, p.rust);
        }
    }
    for p in op.params.iter().filter(|p| p.loc == Loc::Header) {
        if p.required {
            let _ = writeln!(out, "r.header(\"{}\", Some(&self.{}))?;", p.wire, p.rust);
        } else {
            let _ = writeln!(
                out,
                "r.header(\"{}\", self.{}.as_deref())?;",
                p.wire, p.rust
            );
        }
    }
    match &op.body {
        Some(Body::Flattened { required: true, .. }) => out.push_str("r.json(&self.body)?;\n"),
        Some(Body::Flattened { .. }) => {
            out.push_str("if let Some(body) = &self.body { r.json(body)?; }\n");
        }
        Some(Body::Whole {
            rust,
            ty: Ty::Bytes,
            ..
        }) => {
            let _ = writeln!(out, "r.bytes(self.{rust}.clone());");
        }
        Some(Body::Whole { rust, .. }) => {
            let _ = writeln!(out, "r.json(&self.{rust})?;");
        }
        None => {}
    }
    out.push_str("r.finish()\n}\n");
    let parse = match &op.output {
        Output::Unit => "parse_empty",
        Output::Json(_) => "parse_json",
        Output::Page(_) => "parse_page",
        Output::Image => "parse_image",
    };
    let _ = writeln!(
        out,
        "\nfn parse_response(&self, response: Response<Bytes>) -> Result<Self::Output, Error> {{ {parse}(Self::INFO, response) }}"
    );
    if op.has_repeatability() {
        out.push_str(
            "\n/// Idempotent when `repeatability-request-id` is set: the service then executes \
             the request once however often it is sent.\nfn idempotency(&self) -> Idempotency { \
             if self.repeatability_request_id.is_some() { Idempotency::Idempotent } else { \
             Idempotency::NotIdempotent } }\n",
        );
    } else if op.idempotent_post {
        out.push_str(
            "\n/// Idempotent although a POST: repeating it cannot act twice.\nfn \
             idempotency(&self) -> Idempotency { Idempotency::Idempotent }\n",
        );
    }
    out.push_str("}\n");
}
