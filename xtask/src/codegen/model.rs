//! The wire models: one Rust type per spec definition (structs, open enums, discriminated
//! unions), with the spec's descriptions as docs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use serde_json::Value;

use super::{
    Loader, Service, doc_lines, field_name, header, normalize, resolve_ref, text, variant_name,
};

#[derive(Clone, Debug)]
pub(super) enum Ty {
    String,
    I32,
    I64,
    Bool,
    DateTime,
    Bytes,
    Map,
    Vec(Box<Ty>),
    Named(String),
}

impl Ty {
    pub(super) fn rust(&self) -> String {
        match self {
            Ty::String => "String".into(),
            Ty::I32 => "i32".into(),
            Ty::I64 => "i64".into(),
            Ty::Bool => "bool".into(),
            Ty::DateTime => "DateTime".into(),
            Ty::Bytes => "Bytes".into(),
            Ty::Map => "BTreeMap<String, String>".into(),
            Ty::Vec(inner) => format!("Vec<{}>", inner.rust()),
            Ty::Named(n) => n.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Field {
    pub(super) wire: String,
    pub(super) rust: String,
    pub(super) ty: Ty,
    pub(super) required: bool,
    pub(super) boxed: bool,
    pub(super) doc: String,
}

#[derive(Debug)]
pub(super) enum Def {
    Struct {
        doc: String,
        fields: Vec<Field>,
    },
    Enum {
        doc: String,
        values: Vec<(String, String)>,
    },
    Union {
        doc: String,
        kind_enum: String,
        variants: Vec<(String, String)>,
    },
}

pub(crate) struct Model {
    service: &'static Service,
    pub(super) defs: BTreeMap<String, Def>,
    /// (file, definition) -> Rust type name, so aliases and their targets share one name.
    names: BTreeMap<(PathBuf, String), String>,
    /// Rust names of structs that are variants of a discriminated union (their `kind` is implied).
    variant_structs: BTreeSet<String>,
    /// (Rust name, preview pass) already visited: stops recursion on self-referencing models.
    visited: BTreeSet<(String, bool)>,
}

impl Model {
    pub(super) fn new(service: &'static Service) -> Self {
        Self {
            service,
            defs: BTreeMap::new(),
            names: BTreeMap::new(),
            variant_structs: BTreeSet::new(),
            visited: BTreeSet::new(),
        }
    }

    pub(super) fn service(&self) -> &'static Service {
        self.service
    }

    /// The Rust type that replaces a hand-written definition, if `name` is one.
    fn handwritten(&self, name: &str) -> Option<String> {
        self.service
            .handwritten
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, rust)| (*rust).to_string())
    }

    /// Collects every definition of `spec` and what they reference. For the preview spec only
    /// what the primary lacks is added (new definitions, new properties), marked as preview-only.
    pub(super) fn collect(
        &mut self,
        loader: &mut Loader,
        spec: &Path,
        preview: bool,
    ) -> anyhow::Result<()> {
        let spec = normalize(spec);
        let definitions = loader
            .load(&spec)?
            .get("definitions")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| anyhow!("{} has no definitions", spec.display()))?;
        for (name, def) in &definitions {
            if self.service.skipped.contains(&name.as_str()) {
                continue;
            }
            if let Some(reference) = def.get("$ref").and_then(Value::as_str) {
                let target = resolve_ref(&spec, reference)?;
                self.names.entry(target).or_insert_with(|| name.clone());
            }
            self.names
                .entry((spec.clone(), name.clone()))
                .or_insert_with(|| name.clone());
        }
        for name in definitions.keys() {
            if self.service.skipped.contains(&name.as_str()) {
                continue;
            }
            self.define(loader, &spec, name, preview)?;
        }
        Ok(())
    }

    fn rust_name(&self, file: &Path, name: &str) -> String {
        self.names
            .get(&(file.to_path_buf(), name.to_string()))
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    pub(super) fn define(
        &mut self,
        loader: &mut Loader,
        file: &Path,
        name: &str,
        preview: bool,
    ) -> anyhow::Result<String> {
        if let Some(rust) = self.handwritten(name) {
            return Ok(rust);
        }
        let def = loader.definition(file, name)?;
        if let Some(reference) = def.get("$ref").and_then(Value::as_str) {
            let (target_file, target) = resolve_ref(file, reference)?;
            self.names
                .entry((target_file.clone(), target.clone()))
                .or_insert_with(|| name.to_string());
            return self.define(loader, &target_file, &target, preview);
        }
        let rust = self.rust_name(file, name);
        let exists = self.defs.contains_key(&rust);
        if (exists && !preview) || !self.visited.insert((rust.clone(), preview)) {
            return Ok(rust);
        }
        let doc = text(&def, "description");
        if def.get("enum").is_some() {
            if !exists {
                let values = enum_values(&def);
                self.defs.insert(rust.clone(), Def::Enum { doc, values });
            }
            return Ok(rust);
        }
        if let Some(disc) = def.get("discriminator").and_then(Value::as_str) {
            if !exists {
                // Placeholder first: variants reference the base through allOf.
                let kind_enum = def
                    .pointer(&format!("/properties/{disc}/x-ms-enum/name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{rust}Kind"));
                let kind_def = def
                    .pointer(&format!("/properties/{disc}"))
                    .cloned()
                    .unwrap_or(Value::Null);
                self.defs.insert(
                    kind_enum.clone(),
                    Def::Enum {
                        doc: text(&kind_def, "description"),
                        values: enum_values(&kind_def),
                    },
                );
                // Variants: every definition in the same file whose allOf names this one.
                let all = loader
                    .load(file)?
                    .get("definitions")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let mut variants = Vec::new();
                for (vname, vdef) in &all {
                    let parent = vdef
                        .get("allOf")
                        .and_then(Value::as_array)
                        .and_then(|a| a.first())
                        .and_then(|r| r.get("$ref"))
                        .and_then(Value::as_str);
                    if parent == Some(&format!("#/definitions/{name}")) {
                        let value = vdef
                            .get("x-ms-discriminator-value")
                            .and_then(Value::as_str)
                            .unwrap_or(vname)
                            .to_string();
                        let vrust = self.rust_name(file, vname);
                        self.variant_structs.insert(vrust.clone());
                        variants.push((value, vrust));
                    }
                }
                self.defs.insert(
                    rust.clone(),
                    Def::Union {
                        doc,
                        kind_enum,
                        variants,
                    },
                );
            }
            return Ok(rust);
        }
        // An object.
        let required: Vec<String> = def
            .get("required")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let props = def
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if !exists {
            let mut doc = doc.clone();
            if preview {
                doc.push_str("\n\nOnly in api-version 2024-03-15-preview.");
            }
            self.defs.insert(
                rust.clone(),
                Def::Struct {
                    doc,
                    fields: Vec::new(),
                },
            );
        }
        let existing: BTreeSet<String> = match self.defs.get(&rust) {
            Some(Def::Struct { fields, .. }) => fields.iter().map(|f| f.wire.clone()).collect(),
            _ => BTreeSet::new(),
        };
        let mut new_fields = Vec::new();
        // Required fields first, in the spec's order; then the optional ones, by name.
        let mut order: Vec<&String> = required.iter().filter(|r| props.contains_key(*r)).collect();
        order.extend(props.keys().filter(|k| !required.contains(k)));
        for wire in order {
            if existing.contains(wire) {
                continue;
            }
            let prop = &props[wire];
            let ty = self.ty(loader, file, prop, preview)?;
            let mut doc = text(prop, "description");
            if doc.is_empty()
                && let Some(reference) = prop.get("$ref").and_then(Value::as_str)
            {
                let (f, n) = resolve_ref(file, reference)?;
                doc = text(&loader.definition(&f, &n)?, "description");
            }
            if preview && !existing.is_empty() {
                doc.push_str("\n\nOnly in api-version 2024-03-15-preview.");
            }
            let client_name = prop
                .get("x-ms-client-name")
                .and_then(Value::as_str)
                .unwrap_or(wire);
            let boxed = matches!(&ty, Ty::Named(n) if *n == rust);
            new_fields.push(Field {
                wire: wire.clone(),
                rust: field_name(client_name),
                ty,
                required: required.contains(wire),
                boxed,
                doc,
            });
        }
        if let Some(Def::Struct { fields, .. }) = self.defs.get_mut(&rust) {
            fields.extend(new_fields);
        }
        Ok(rust)
    }

    pub(super) fn ty(
        &mut self,
        loader: &mut Loader,
        file: &Path,
        prop: &Value,
        preview: bool,
    ) -> anyhow::Result<Ty> {
        if let Some(reference) = prop.get("$ref").and_then(Value::as_str) {
            let (f, n) = resolve_ref(file, reference)?;
            return Ok(Ty::Named(self.define(loader, &f, &n, preview)?));
        }
        if prop.get("enum").is_some() {
            let name = prop
                .pointer("/x-ms-enum/name")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("inline enum without x-ms-enum name"))?
                .to_string();
            self.defs.entry(name.clone()).or_insert_with(|| Def::Enum {
                doc: text(prop, "description"),
                values: enum_values(prop),
            });
            return Ok(Ty::Named(name));
        }
        let ty = prop.get("type").and_then(Value::as_str).unwrap_or("object");
        let format = prop.get("format").and_then(Value::as_str).unwrap_or("");
        Ok(match (ty, format) {
            ("string", "date-time") => Ty::DateTime,
            ("string", "binary") => Ty::Bytes,
            ("string", _) => Ty::String,
            ("integer", "int64") => Ty::I64,
            ("integer", _) => Ty::I32,
            ("boolean", _) => Ty::Bool,
            ("array", _) => {
                let items = prop
                    .get("items")
                    .ok_or_else(|| anyhow!("array without items"))?;
                Ty::Vec(Box::new(self.ty(loader, file, items, preview)?))
            }
            ("object", _) if prop.get("additionalProperties").is_some() => Ty::Map,
            other => bail!("unsupported schema type {other:?}"),
        })
    }

    pub(super) fn emit(&self) -> String {
        let mut out = header(self.service);
        out.push_str(
            "\n//! Wire models.\n\n#![allow(unused_imports)]\n\nuse std::collections::BTreeMap;\nuse std::fmt;\n\nuse serde::{Deserialize, Deserializer, Serialize, Serializer};\n\nuse crate::{CommunicationIdentifier, DateTime};\n",
        );
        for (name, def) in &self.defs {
            match def {
                Def::Struct { doc, fields } => {
                    let variant = self.variant_structs.contains(name);
                    emit_struct(&mut out, name, doc, fields, variant);
                }
                Def::Enum { doc, values } => emit_enum(&mut out, name, doc, values),
                Def::Union {
                    doc,
                    kind_enum,
                    variants,
                } => emit_union(&mut out, name, doc, kind_enum, variants),
            }
        }
        out
    }
}

fn enum_values(def: &Value) -> Vec<(String, String)> {
    let descriptions: BTreeMap<String, String> = def
        .pointer("/x-ms-enum/values")
        .and_then(Value::as_array)
        .map(|vals| {
            vals.iter()
                .filter_map(|v| {
                    Some((
                        v.get("value")?.as_str()?.to_string(),
                        text(v, "description"),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    def.get("enum")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|v| {
                    (
                        v.to_string(),
                        descriptions.get(v).cloned().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a field holds a credential: generated `Debug` shows `<redacted>` instead. The spec
/// marks none (no `x-ms-secret`); the Identity API's tokens are the `token` strings.
fn is_secret(field: &Field) -> bool {
    field.wire == "token" && matches!(field.ty, Ty::String)
}

fn emit_struct(out: &mut String, name: &str, doc: &str, fields: &[Field], variant: bool) {
    out.push('\n');
    doc_lines(out, doc);
    if variant {
        out.push_str(
            "///\n/// A variant of a discriminated union: its `kind` is written by the union.\n",
        );
    }
    let all_optional = fields.iter().all(|f| !f.required);
    let derive_default = if all_optional { ", Default" } else { "" };
    let secret = fields.iter().any(is_secret);
    let derive_debug = if secret { "" } else { "Debug, " };
    let _ = writeln!(
        out,
        "#[derive({derive_debug}Clone, PartialEq, Eq{derive_default}, Serialize, Deserialize)]\n#[non_exhaustive]\npub struct {name} {{"
    );
    for f in fields {
        doc_lines(out, &f.doc);
        let mut ty = f.ty.rust();
        if f.boxed {
            ty = format!("Box<{ty}>");
        }
        if f.required {
            let _ = writeln!(out, "#[serde(rename = \"{}\")]", f.wire);
            let _ = writeln!(out, "pub {}: {ty},", f.rust);
        } else {
            let _ = writeln!(
                out,
                "#[serde(rename = \"{}\", default, skip_serializing_if = \"Option::is_none\")]",
                f.wire
            );
            let _ = writeln!(out, "pub {}: Option<{ty}>,", f.rust);
        }
    }
    out.push_str("}\n");
    // Constructor with the required fields.
    let required: Vec<&Field> = fields.iter().filter(|f| f.required).collect();
    let _ = writeln!(out, "\nimpl {name} {{");
    if required.is_empty() {
        out.push_str("/// Creates a value with every field unset.\n");
    } else {
        out.push_str(
            "/// Creates a value from its required fields; the optional ones are unset.\n",
        );
    }
    let params: Vec<String> = required
        .iter()
        .map(|f| match &f.ty {
            Ty::String => format!("{}: impl Into<String>", f.rust),
            other if f.boxed => format!("{}: Box<{}>", f.rust, other.rust()),
            other => format!("{}: {}", f.rust, other.rust()),
        })
        .collect();
    let _ = writeln!(out, "pub fn new({}) -> Self {{ Self {{", params.join(", "));
    for f in fields {
        if f.required {
            if matches!(f.ty, Ty::String) {
                let _ = writeln!(out, "{0}: {0}.into(),", f.rust);
            } else {
                let _ = writeln!(out, "{0},", f.rust);
            }
        } else {
            let _ = writeln!(out, "{}: None,", f.rust);
        }
    }
    out.push_str("} }\n}\n");
    if secret {
        let _ = writeln!(
            out,
            "\n/// Credentials are shown as `<redacted>`.\nimpl fmt::Debug for {name} {{\nfn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{\nf.debug_struct(\"{name}\")"
        );
        for f in fields {
            if is_secret(f) {
                let _ = writeln!(out, ".field(\"{0}\", &\"<redacted>\")", f.rust);
            } else {
                let _ = writeln!(out, ".field(\"{0}\", &self.{0})", f.rust);
            }
        }
        out.push_str(".finish()\n}\n}\n");
    }
}

fn emit_enum(out: &mut String, name: &str, doc: &str, values: &[(String, String)]) {
    out.push('\n');
    doc_lines(out, doc);
    out.push_str(
        "///\n/// An open enum: values this version does not know are kept in `UnknownValue`.\n",
    );
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[non_exhaustive]\npub enum {name} {{"
    );
    for (value, desc) in values {
        let text = if desc.is_empty() {
            format!("`{value}`")
        } else {
            format!("`{value}`: {desc}")
        };
        doc_lines(out, &text);
        let _ = writeln!(out, "{},", variant_name(value));
    }
    out.push_str("/// A value not known to this version of the crate, kept as sent.\nUnknownValue(String),\n}\n");
    let _ = writeln!(
        out,
        "\nimpl {name} {{\n/// The wire value.\npub fn as_str(&self) -> &str {{ match self {{"
    );
    for (value, _) in values {
        let _ = writeln!(out, "Self::{} => \"{value}\",", variant_name(value));
    }
    out.push_str("Self::UnknownValue(other) => other,\n} }\n}\n");
    let _ = writeln!(
        out,
        "\nimpl From<&str> for {name} {{\nfn from(value: &str) -> Self {{ match value {{"
    );
    for (value, _) in values {
        let _ = writeln!(out, "\"{value}\" => Self::{},", variant_name(value));
    }
    out.push_str("other => Self::UnknownValue(other.to_owned()),\n} }\n}\n");
    let _ = writeln!(
        out,
        "\nimpl From<String> for {name} {{\nfn from(value: String) -> Self {{ match Self::from(value.as_str()) {{ Self::UnknownValue(_) => Self::UnknownValue(value), known => known }} }}\n}}"
    );
    let _ = writeln!(
        out,
        "\nimpl fmt::Display for {name} {{\nfn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{ f.write_str(self.as_str()) }}\n}}"
    );
    let _ = writeln!(
        out,
        "\nimpl Serialize for {name} {{\nfn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {{ serializer.serialize_str(self.as_str()) }}\n}}"
    );
    let _ = writeln!(
        out,
        "\nimpl<'de> Deserialize<'de> for {name} {{\nfn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {{ deserializer.deserialize_str(crate::serde_util::OpenEnumVisitor::<Self>::new(\"{name}\")) }}\n}}"
    );
}

fn emit_union(
    out: &mut String,
    name: &str,
    doc: &str,
    kind_enum: &str,
    variants: &[(String, String)],
) {
    out.push('\n');
    doc_lines(out, doc);
    out.push_str(
        "///\n/// A discriminated union on `kind`; an unknown kind keeps the whole JSON object.\n",
    );
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq, Eq)]\n#[non_exhaustive]\npub enum {name} {{"
    );
    for (value, vstruct) in variants {
        let _ = writeln!(
            out,
            "/// `kind: \"{value}\"`.\n{}({vstruct}),",
            variant_name(value)
        );
    }
    out.push_str("/// A kind not known to this version of the crate: the whole object, as sent.\nUnknownValue(serde_json::Map<String, serde_json::Value>),\n}\n");
    let _ = writeln!(
        out,
        "\nimpl {name} {{\n/// The discriminator.\npub fn kind(&self) -> {kind_enum} {{ match self {{"
    );
    for (value, _) in variants {
        let _ = writeln!(
            out,
            "Self::{} (_) => {kind_enum}::from(\"{value}\"),",
            variant_name(value)
        );
    }
    out.push_str("Self::UnknownValue(map) => map.get(\"kind\").and_then(serde_json::Value::as_str).map(Into::into).unwrap_or_else(|| ");
    let _ = writeln!(out, "{kind_enum}::UnknownValue(String::new())),\n}} }}\n}}");
    // Serialize: the variant's fields plus `kind`.
    let _ = writeln!(
        out,
        "\nimpl Serialize for {name} {{\nfn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {{ match self {{"
    );
    for (value, _) in variants {
        let _ = writeln!(
            out,
            "Self::{}(inner) => crate::serde_util::serialize_tagged(\"{value}\", inner, serializer),",
            variant_name(value)
        );
    }
    out.push_str("Self::UnknownValue(map) => map.serialize(serializer),\n} }\n}\n");
    let _ = writeln!(
        out,
        "\nimpl<'de> Deserialize<'de> for {name} {{\nfn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {{\nlet map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;\nlet kind = map.get(\"kind\").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();\nmatch kind.as_str() {{"
    );
    for (value, _) in variants {
        let _ = writeln!(
            out,
            "\"{value}\" => crate::serde_util::from_map(map).map(Self::{}),",
            variant_name(value)
        );
    }
    out.push_str("_ => Ok(Self::UnknownValue(map)),\n} }\n}\n");
}
