//! Scenario files, YAML side: the serde shape of a file (`RawScenario`) and
//! every use of serde_yaml.
//!
//! serde_yaml is deprecated, so it lives only here: swapping the YAML library
//! means rewriting `parse` and `locate` in this file and nothing else. The
//! rest of `scenario` sees plain structs, `Seg` paths and `Problem`s.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_yaml::{Mapping, Value};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;

/// Most values (scalars and collections) one document may expand to.
/// serde_yaml caps alias *jumps*, not their size, so a file of a few hundred
/// kilobytes can still expand quadratically; this cap keeps such a file fast
/// to reject. A real scenario has a few dozen values.
pub(crate) const MAX_VALUES: usize = 100_000;

/// A scenario file as written. Every field is optional here so that one
/// wrong field does not hide the others; `validate` decides what is required.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    /// `name:`, required by validation.
    pub name: Option<String>,
    /// `description:`, free text.
    pub description: Option<String>,
    /// `provider:`, `shell` (default) or `nix`.
    pub provider: Option<String>,
    /// `out:`, absolute path of `$out`.
    pub out: Option<String>,
    /// `src:`, the directory visible as `$src`, relative to the file.
    pub src: Option<String>,
    /// `build:`, the shell provider's script.
    pub build: Option<String>,
    /// `path:`, PATH entries before `$out` expansion.
    pub path: Option<Vec<String>>,
    /// `timeout:`, seconds per build.
    pub timeout: Option<u64>,
    /// `network:`, `true`/`false` or `{allow: [hosts]}`.
    pub network: Option<RawNetwork>,
    /// `host_paths:`, extra host paths visible read-only in the sandbox.
    pub host_paths: Option<Vec<String>>,
    /// `source_date_epoch:`, exported as SOURCE_DATE_EPOCH: absent is
    /// `None`, an explicit `null` is `Some(None)` (build without it).
    #[serde(default, deserialize_with = "present")]
    pub source_date_epoch: Option<Option<i64>>,
    /// `compare:`, `nar` (default) or `strict`.
    pub compare: Option<String>,
    /// `vary:`, variation names for build B.
    pub vary: Option<Vec<String>>,
    /// `expect:`, the checks.
    pub expect: Option<RawExpect>,
    /// `nix:`, the nix provider's block.
    pub nix: Option<RawNix>,
    /// `requires:`, what must hold on the host for the scenario to run.
    pub requires: Option<RawRequires>,
    /// `limits:`, per-build resource limits.
    pub limits: Option<RawLimits>,
}

/// The `limits:` block as written; sizes are checked by `validate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    /// `memory:`, a size.
    pub memory: Option<RawSize>,
    /// `pids:`, a number of processes.
    pub pids: Option<u64>,
    /// `disk:`, a size, all of a build's writable trees together.
    pub disk: Option<RawSize>,
    /// `log:`, a size of build output kept.
    pub log: Option<RawSize>,
}

/// A size as written: a number of bytes, or text such as `256MiB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawSize {
    /// A plain number: bytes.
    Bytes(u64),
    /// Anything else, parsed by `validate`.
    Text(String),
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<RawSize, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as `256MiB`, `4GiB` or a number of bytes")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSize, E> {
                Ok(RawSize::Bytes(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSize, E> {
                Ok(RawSize::Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawSize, E> {
                Ok(RawSize::Text(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSize, E> {
                Ok(RawSize::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `network:` as written: a boolean, or a mapping with the allowlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawNetwork {
    /// `network: true` / `false`.
    Bool(bool),
    /// `network: {allow: [...]}`.
    Allow(RawNetworkAllow),
}

/// The `network:` mapping as written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetworkAllow {
    /// `allow:`, hosts or `*.domain` patterns.
    pub allow: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for RawNetwork {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<RawNetwork, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawNetwork;
            // Worded as serde words a plain boolean, so that a wrong
            // scalar reads as before: "must be `true` or `false`".
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawNetwork, E> {
                Ok(RawNetwork::Bool(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawNetwork, A::Error> {
                RawNetworkAllow::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawNetwork::Allow)
            }
        }
        d.deserialize_any(V)
    }
}

/// The `requires:` block as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequires {
    /// `network:`, `host` or `host:port` entries that must be reachable.
    pub network: Option<Vec<String>>,
}

/// The `expect:` block as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    /// `reproducible:`, default true.
    pub reproducible: Option<bool>,
    /// `build:`, `succeed` (default) or `fail`.
    pub build: Option<String>,
    /// `hash:`, SRI `sha256-...`.
    pub hash: Option<String>,
    /// `which:`, command -> glob.
    pub which: Option<BTreeMap<String, String>>,
    /// `missing:`, commands that must not be found.
    pub missing: Option<Vec<String>>,
    /// `path_contains:`, globs.
    pub path_contains: Option<Vec<String>>,
    /// `path_excludes:`, globs.
    pub path_excludes: Option<Vec<String>>,
    /// `run:`, commands to run in the environment.
    pub run: Option<Vec<RawRun>>,
    /// `fetches:`, `pinned` or `any` (default).
    pub fetches: Option<String>,
}

/// A key that is present, even as `null`: `Some(value)`. With
/// `#[serde(default)]` an absent key stays `None`, so the two differ.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: de::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// One `expect.run` entry as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRun {
    /// `cmd:`, required by validation.
    pub cmd: Option<String>,
    /// `stdout:`, exact.
    pub stdout: Option<String>,
    /// `stdout_contains:`, substring.
    pub stdout_contains: Option<String>,
    /// `exit:`, wider than an exit status so validation can say "0-255".
    pub exit: Option<i64>,
}

/// The `nix:` block as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNix {
    /// `file:`, relative to the scenario file.
    pub file: Option<String>,
    /// `attr:`, like `-A`.
    pub attr: Option<String>,
    /// `mode:`, `shell` or `build`.
    pub mode: Option<String>,
    /// `nix_path:`, name -> directory relative to the scenario file.
    pub nix_path: Option<BTreeMap<String, String>>,
    /// `packages:`, like `nix-shell -p`, instead of `file`.
    pub packages: Option<Vec<String>>,
}

/// One step of a path into the document: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl Seg {
    pub(crate) fn key(k: &str) -> Seg {
        Seg::Key(k.to_owned())
    }
}

/// Render a path the way a user writes it: `expect.run[0].cmd`.
pub(crate) fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Why a file did not turn into a `RawScenario`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Problem {
    /// Not YAML, or YAML we refuse (tags, duplicate keys, alias bombs);
    /// located by the parser, `None` where it gives no position.
    Syntax {
        at: Option<(usize, usize)>,
        message: String,
    },
    /// No YAML content at all.
    Empty,
    /// The document is a list or a scalar; `found` names what it is.
    NotAMapping { found: &'static str },
    /// A key the schema does not know, with the keys it does know there.
    UnknownKey {
        path: Vec<Seg>,
        key: String,
        expected: Vec<String>,
    },
    /// A value of the wrong type; `message` is serde's ("invalid type: ...").
    Invalid { path: Vec<Seg>, message: String },
}

impl Problem {
    /// Where in the document the problem is; empty for whole-file problems.
    pub(crate) fn path(&self) -> &[Seg] {
        match self {
            Problem::UnknownKey { path, .. } | Problem::Invalid { path, .. } => path,
            _ => &[],
        }
    }
}

/// A file that parsed as YAML: its raw scenario, plus every unknown key and
/// wrongly typed value found. Those keys are left out of `raw`, so the
/// remaining fields can still be validated in the same run.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub raw: RawScenario,
    pub problems: Vec<Problem>,
}

/// Parse a scenario file's text into its raw shape, reporting every unknown
/// key and wrongly typed value, not only the first. `Err` when nothing
/// usable is left (not YAML, not a mapping).
pub(crate) fn parse(text: &str) -> Result<Parsed, Vec<Problem>> {
    let value = build_value(text).map_err(|p| vec![p])?;
    match &value {
        Value::Mapping(_) => {}
        Value::Null => return Err(vec![Problem::Empty]),
        other => {
            return Err(vec![Problem::NotAMapping {
                found: kind_of(other),
            }]);
        }
    }
    let err = match RawScenario::deserialize(value.clone()) {
        Ok(raw) => {
            return Ok(Parsed {
                raw,
                problems: Vec::new(),
            });
        }
        Err(err) => err,
    };
    let mut problems = Vec::new();
    narrow(&[], &value, &err, &mut problems);
    let mut pruned = value;
    for problem in &problems {
        prune(&mut pruned, problem.path());
    }
    match RawScenario::deserialize(pruned) {
        Ok(raw) => Ok(Parsed { raw, problems }),
        Err(_) => Err(problems),
    }
}

/// Remove the innermost key on `path` (the whole list for a bad list item),
/// so the rest of the document deserializes.
fn prune(doc: &mut Value, path: &[Seg]) {
    let Some(last) = path.iter().rposition(|s| matches!(s, Seg::Key(_))) else {
        return;
    };
    let mut node = doc;
    for seg in &path[..last] {
        let next = match seg {
            Seg::Key(k) => node.get_mut(k.as_str()),
            Seg::Index(i) => node.get_mut(*i),
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    if let (Some(map), Seg::Key(k)) = (node.as_mapping_mut(), &path[last]) {
        map.remove(k.as_str());
    }
}

/// Where in a node a diagnostic should point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The key itself (`biuld` in `biuld: x`).
    Key,
    /// The value (`0` in `timeout: 0`, the first entry of a block mapping).
    Value,
}

/// 1-based line and column of `path` in `text`, as the YAML parser sees it.
/// Where the path does not exist, the nearest existing ancestor is given.
/// `None` if `text` does not parse.
///
/// serde_yaml exposes no spans for values, but it stamps the position of the
/// event being read on any error a visitor returns. So we walk to the node
/// and fail there on purpose, with a marker message, and read the position
/// off the error. Exact, at the cost of one more parse per located problem.
pub(crate) fn locate(text: &str, path: &[Seg], target: Target) -> Option<(usize, usize)> {
    let de = serde_yaml::Deserializer::from_str(text);
    match (Finder { path, target }).deserialize(de) {
        Ok(()) => None,
        Err(err) if err.to_string().contains(HERE) => {
            err.location().map(|loc| (loc.line(), loc.column()))
        }
        Err(_) => None,
    }
}

/// Marker message of the deliberate error `locate` provokes.
const HERE: &str = "\u{1}envtwin-locate-here\u{1}";

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Parse `text` into a `Value`, within `MAX_VALUES`, refusing duplicate
/// keys, non-string keys and tags, each at the parser's position.
fn build_value(text: &str) -> Result<Value, Problem> {
    let state = BuildState {
        budget: Cell::new(MAX_VALUES),
        message: RefCell::new(None),
    };
    let de = serde_yaml::Deserializer::from_str(text);
    match (Build { state: &state }).deserialize(de) {
        Ok(value) => Ok(value),
        Err(err) => {
            let own = state.message.borrow_mut().take();
            let text_msg = err.to_string();
            if own.is_none() && text_msg.starts_with("EOF while parsing") {
                return Err(Problem::Empty);
            }
            let at = err.location().map(|loc| (loc.line(), loc.column()));
            let message = own.unwrap_or_else(|| syntax_message(text, at, &text_msg));
            Err(Problem::Syntax { at, message })
        }
    }
}

/// A parser error in our words, with what to do about it.
fn syntax_message(text: &str, at: Option<(usize, usize)>, raw: &str) -> String {
    if raw.contains("more than one document") {
        return "the file holds more than one YAML document (`---`); \
                put one scenario per file"
            .to_owned();
    }
    if raw.contains("recursion limit exceeded") {
        return "values are nested too deeply (over 128 levels)".to_owned();
    }
    if raw.contains("repetition limit exceeded") {
        return "aliases expand too many times (an alias bomb?); \
                a scenario file should be small and plain"
            .to_owned();
    }
    let tab_indented = at
        .and_then(|(line, _)| text.lines().nth(line.saturating_sub(1)))
        .is_some_and(|l| l.trim_start_matches(' ').starts_with('\t'));
    let hint = if tab_indented {
        "YAML does not allow tabs for indentation, use spaces"
    } else {
        "check the indentation and quoting here"
    };
    format!("YAML syntax error: {}; {hint}", strip_positions(raw))
}

/// Remove serde_yaml's " at line N column M" / " at position N" (we print
/// the position ourselves, in front).
fn strip_positions(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        if let Some(skip) = position_len(after) {
            rest = &after[skip..];
        } else {
            out.push_str(" at ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Length of a leading "line N column M" or "position N", if there is one.
fn position_len(s: &str) -> Option<usize> {
    fn digits(s: &str) -> usize {
        s.bytes().take_while(u8::is_ascii_digit).count()
    }
    if let Some(r) = s.strip_prefix("line ") {
        let d1 = digits(r);
        let r2 = r[d1..].strip_prefix(" column ")?;
        let d2 = digits(r2);
        (d1 > 0 && d2 > 0).then_some("line ".len() + d1 + " column ".len() + d2)
    } else if let Some(r) = s.strip_prefix("position ") {
        let d = digits(r);
        (d > 0).then_some("position ".len() + d)
    } else {
        None
    }
}

struct BuildState {
    budget: Cell<usize>,
    /// Our own message for an error we raise (serde_yaml would otherwise
    /// prefix it with its path and suffix it with the position).
    message: RefCell<Option<String>>,
}

impl BuildState {
    fn fail<E: de::Error>(&self, message: String) -> E {
        *self.message.borrow_mut() = Some(message);
        E::custom("scenario")
    }

    fn spend<E: de::Error>(&self) -> Result<(), E> {
        match self.budget.get().checked_sub(1) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => Err(self.fail(format!(
                "the document expands to more than {MAX_VALUES} values (an alias bomb?); \
                 a scenario file should be small and plain"
            ))),
        }
    }
}

#[derive(Clone, Copy)]
struct Build<'s> {
    state: &'s BuildState,
}

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.state.spend()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.state.spend()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.state.spend()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Err(self.state.fail(format!("the number {v} is too large")))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Err(self.state.fail(format!("the number {v} is too large")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.state.spend()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.state.spend()?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.state.spend()?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.state.spend()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.state.spend()?;
        let mut mapping = Mapping::new();
        loop {
            let key = map.next_key_seed(KeySeed {
                state: self.state,
                seen: &mapping,
            })?;
            let Some(key) = key else { break };
            let value = map.next_value_seed(self)?;
            mapping.insert(Value::String(key), value);
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<Value, A::Error> {
        Err(self.state.fail(
            "YAML tags such as `!name` are not supported in scenario files; remove the tag"
                .to_owned(),
        ))
    }
}

/// Reads one mapping key: it must be a string not seen before in this mapping.
/// Checked here, not after, so the error carries the key's own position.
struct KeySeed<'s, 'm> {
    state: &'s BuildState,
    seen: &'m Mapping,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = String;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl KeySeed<'_, '_> {
    fn not_string<E: de::Error>(&self, what: String) -> E {
        self.state.fail(format!(
            "keys must be strings, found {what}; quote the key if you mean text"
        ))
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        if self.seen.contains_key(v) {
            return Err(self.state.fail(format!(
                "duplicate key `{v}`; each key may appear once in a mapping, remove one"
            )));
        }
        Ok(v.to_owned())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Err(self.not_string(format!("the boolean `{v}`")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Err(self.not_string(format!("the number `{v}`")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Err(self.not_string(format!("the number `{v}`")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Err(self.not_string(format!("the number `{v}`")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Err(self.not_string("an empty key".to_owned()))
    }

    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<String, A::Error> {
        Err(self.not_string("a list".to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<String, A::Error> {
        Err(self.not_string("a mapping".to_owned()))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<String, A::Error> {
        Err(self.not_string("a tagged value".to_owned()))
    }
}

/// Deserialize the whole scenario from a document holding only `leaf` at
/// `path` (every ancestor reduced to that one entry). Because every field of
/// the raw structs is optional, this fails exactly when `leaf` itself is
/// wrong at that place.
fn probe(path: &[Seg], leaf: Value) -> Result<(), serde_yaml::Error> {
    let mut doc = leaf;
    for seg in path.iter().rev() {
        doc = match seg {
            Seg::Key(k) => {
                let mut m = Mapping::new();
                m.insert(Value::String(k.clone()), doc);
                Value::Mapping(m)
            }
            Seg::Index(_) => Value::Sequence(vec![doc]),
        };
    }
    RawScenario::deserialize(doc).map(|_| ())
}

/// `value` at `path` failed to deserialize with `err`: find each smallest
/// part of it that fails on its own and record one problem for each.
fn narrow(path: &[Seg], value: &Value, err: &serde_yaml::Error, out: &mut Vec<Problem>) {
    let children: Vec<(Seg, Value, Value)> = match value {
        Value::Mapping(m) => m
            .iter()
            .filter_map(|(k, v)| {
                let key = k.as_str()?;
                let mut single = Mapping::new();
                single.insert(k.clone(), v.clone());
                Some((Seg::key(key), v.clone(), Value::Mapping(single)))
            })
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Seg::Index(i), v.clone(), Value::Sequence(vec![v.clone()])))
            .collect(),
        _ => Vec::new(),
    };
    if children.is_empty() {
        out.push(problem_at(path, err));
        return;
    }
    // The container itself may be what is wrong (a list where a mapping
    // belongs, an unknown key holding a mapping): then do not blame a child.
    let empty = match value {
        Value::Mapping(_) => Value::Mapping(Mapping::new()),
        _ => Value::Sequence(Vec::new()),
    };
    if let Err(e) = probe(path, empty) {
        out.push(problem_at(path, &e));
        return;
    }
    let before = out.len();
    for (seg, child, single) in children {
        if let Err(e) = probe(path, single) {
            let mut child_path = path.to_vec();
            child_path.push(seg);
            narrow(&child_path, &child, &e, out);
        }
    }
    if out.len() == before {
        out.push(problem_at(path, err));
    }
}

fn problem_at(path: &[Seg], err: &serde_yaml::Error) -> Problem {
    let message = err.to_string();
    if message.starts_with("unknown field `") {
        let key = match path.last() {
            Some(Seg::Key(k)) => k.clone(),
            _ => message.split('`').nth(1).unwrap_or_default().to_owned(),
        };
        // serde lists the known fields after "expected": `a`, `b` or `c`.
        let expected = message
            .split_once(", expected ")
            .map(|(_, list)| {
                list.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Problem::UnknownKey {
            path: path.to_vec(),
            key,
            expected,
        }
    } else {
        Problem::Invalid {
            path: path.to_vec(),
            message,
        }
    }
}

/// Walks to `path` and fails there on purpose (see `locate`). Where the path
/// cannot go on, it fails at the node it reached: the nearest ancestor.
#[derive(Clone, Copy)]
struct Finder<'p> {
    path: &'p [Seg],
    target: Target,
}

fn here<E: de::Error>() -> E {
    E::custom(HERE)
}

impl<'de> DeserializeSeed<'de> for Finder<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Finder<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(here())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(here())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(here())
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        Err(here())
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        Err(here())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(here())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(here())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(here())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(here())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(here())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(i), rest)) = self.path.split_first() else {
            return Err(here());
        };
        for _ in 0..*i {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(here());
            }
        }
        let next = Finder {
            path: rest,
            target: self.target,
        };
        match seq.next_element_seed(next)? {
            Some(()) => Ok(()),
            None => Err(here()),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(want), rest)) = self.path.split_first() else {
            return Err(here());
        };
        let fail_on_key = rest.is_empty() && self.target == Target::Key;
        while let Some(found) = map.next_key_seed(KeyFinder { want, fail_on_key })? {
            if found {
                let next = Finder {
                    path: rest,
                    target: self.target,
                };
                return map.next_value_seed(next);
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(here())
    }
}

/// Reads a key during `locate`: is it the one we want? Fails on it when the
/// key itself is the target.
struct KeyFinder<'w> {
    want: &'w str,
    fail_on_key: bool,
}

impl<'de> DeserializeSeed<'de> for KeyFinder<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyFinder<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        if v == self.want && self.fail_on_key {
            return Err(here());
        }
        Ok(v == self.want)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<bool, A::Error> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Seg {
        Seg::key(s)
    }

    #[test]
    fn locate_block_keys_values_and_items() {
        let text = "name: hello\nexpect:\n  which:\n    hello: $out/bin/hello\n  run:\n    - cmd: hello\n      exit: 3\n";
        assert_eq!(locate(text, &[k("name")], Target::Key), Some((1, 1)));
        assert_eq!(locate(text, &[k("name")], Target::Value), Some((1, 7)));
        assert_eq!(
            locate(text, &[k("expect"), k("which"), k("hello")], Target::Value),
            Some((4, 12))
        );
        assert_eq!(
            locate(
                text,
                &[k("expect"), k("run"), Seg::Index(0), k("exit")],
                Target::Key
            ),
            Some((7, 7))
        );
        assert_eq!(
            locate(text, &[k("expect"), k("run"), Seg::Index(0)], Target::Value),
            Some((6, 7))
        );
    }

    #[test]
    fn locate_flow_items() {
        let text = "name: x\nvary: [hostname, umsk]\nwhich: {a: 1, b: 2}\n";
        assert_eq!(
            locate(text, &[k("vary"), Seg::Index(1)], Target::Value),
            Some((2, 18))
        );
        assert_eq!(
            locate(text, &[k("which"), k("b")], Target::Key),
            Some((3, 15))
        );
    }

    #[test]
    fn locate_missing_path_falls_back_to_nearest_ancestor() {
        let text = "name: x\nexpect:\n  hash: abc\n";
        // `expect.run` does not exist: the `expect` mapping is the answer.
        assert_eq!(
            locate(text, &[k("expect"), k("run"), Seg::Index(2)], Target::Value),
            Some((3, 3))
        );
        assert_eq!(locate(text, &[k("nope")], Target::Key), Some((1, 1)));
        assert_eq!(locate("", &[k("a")], Target::Key), Some((1, 1)));
    }

    #[test]
    fn strip_positions_keeps_other_text() {
        assert_eq!(
            strip_positions(
                "did not find expected key at line 3 column 1, while parsing a block mapping at line 1 column 1"
            ),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(strip_positions("look at me"), "look at me");
        assert_eq!(strip_positions("x at position 12"), "x");
    }

    #[test]
    fn every_unknown_key_and_bad_type_is_reported() {
        let text = "name: x\nbiuld: y\ntimeout: ten\nexpect:\n  run:\n    - cmd: a\n      stdot: b\n  which: {a: 1}\n";
        let parsed = parse(text).expect("usable after pruning");
        // What was wrong is left out; what was right is kept.
        assert_eq!(parsed.raw.name.as_deref(), Some("x"));
        assert_eq!(parsed.raw.timeout, None);
        let run = parsed.raw.expect.as_ref().and_then(|e| e.run.as_ref());
        assert_eq!(run.map(|r| r[0].cmd.as_deref()), Some(Some("a")));
        let problems = parsed.problems;
        assert_eq!(
            problems,
            vec![
                Problem::UnknownKey {
                    path: vec![k("biuld")],
                    key: "biuld".into(),
                    expected: [
                        "name",
                        "description",
                        "provider",
                        "out",
                        "src",
                        "build",
                        "path",
                        "timeout",
                        "network",
                        "host_paths",
                        "source_date_epoch",
                        "compare",
                        "vary",
                        "expect",
                        "nix",
                        "requires",
                        "limits"
                    ]
                    .map(String::from)
                    .to_vec(),
                },
                Problem::Invalid {
                    path: vec![k("timeout")],
                    message: "invalid type: string \"ten\", expected u64".into(),
                },
                Problem::UnknownKey {
                    path: vec![k("expect"), k("run"), Seg::Index(0), k("stdot")],
                    key: "stdot".into(),
                    expected: ["cmd", "stdout", "stdout_contains", "exit"]
                        .map(String::from)
                        .to_vec(),
                },
                Problem::Invalid {
                    path: vec![k("expect"), k("which"), k("a")],
                    message: "invalid type: integer `1`, expected a string".into(),
                },
            ]
        );
    }

    #[test]
    fn wrong_container_is_blamed_on_the_container() {
        let problems = parse("name: x\npath: {a: b}\nbiuld: {c: d}\n")
            .expect("usable")
            .problems;
        assert!(matches!(&problems[0], Problem::Invalid { path, message }
            if path == &vec![k("path")] && message.contains("expected a sequence")));
        assert!(
            matches!(&problems[1], Problem::UnknownKey { path, .. } if path == &vec![k("biuld")])
        );
        assert_eq!(problems.len(), 2);
    }

    #[test]
    fn duplicate_keys_tags_and_nonstring_keys_are_syntax_problems() {
        let dup = parse("name: a\nname: b\n").expect_err("dup");
        assert_eq!(
            dup,
            vec![Problem::Syntax {
                at: Some((2, 1)),
                message: "duplicate key `name`; each key may appear once in a mapping, remove one"
                    .into()
            }]
        );
        let tag = parse("name: !foo a\n").expect_err("tag");
        assert!(
            matches!(&tag[0], Problem::Syntax { at: Some((1, 7)), message } if message.contains("tags"))
        );
        let num = parse("1: a\n").expect_err("num key");
        assert!(
            matches!(&num[0], Problem::Syntax { at: Some((1, 1)), message } if message.contains("keys must be strings"))
        );
    }

    #[test]
    fn syntax_errors_are_located_and_explained() {
        let problems = parse("name: x\nbuild: [a\n").expect_err("syntax");
        let [Problem::Syntax { at, message }] = problems.as_slice() else {
            panic!("{problems:?}");
        };
        assert_eq!(*at, Some((3, 1)));
        assert!(message.starts_with("YAML syntax error: "), "{message}");
        assert!(!message.contains("line 3"), "{message}");
        let tabs = parse("name: x\nexpect:\n\treproducible: true\n").expect_err("tab");
        assert!(matches!(&tabs[0], Problem::Syntax { message, .. } if message.contains("tabs")));
        let two = parse("name: a\n---\nname: b\n").expect_err("two docs");
        assert!(
            matches!(&two[0], Problem::Syntax { message, .. } if message.contains("one scenario per file"))
        );
    }

    #[test]
    fn empty_and_non_mapping_documents() {
        assert_eq!(parse("").expect_err("e"), vec![Problem::Empty]);
        assert_eq!(
            parse("# only a comment\n").expect_err("e"),
            vec![Problem::Empty]
        );
        assert_eq!(parse("~\n").expect_err("e"), vec![Problem::Empty]);
        assert_eq!(
            parse("- a\n- b\n").expect_err("e"),
            vec![Problem::NotAMapping { found: "a list" }]
        );
        assert_eq!(
            parse("hello\n").expect_err("e"),
            vec![Problem::NotAMapping { found: "a string" }]
        );
    }

    #[test]
    fn quadratic_alias_expansion_hits_the_value_cap() {
        // 1000 items aliased 1000 times: a million values from 2000 lines.
        let mut text = String::from("a: &a [");
        text.push_str(&vec!["x"; 1000].join(","));
        text.push_str("]\nb: [");
        text.push_str(&vec!["*a"; 1000].join(","));
        text.push_str("]\n");
        let problems = parse(&text).expect_err("bomb");
        assert!(
            matches!(&problems[0], Problem::Syntax { message, .. } if message.contains("alias bomb"))
        );
    }
}
