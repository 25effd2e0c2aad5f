//! Scenario files: TOML text -> raw types -> overrides -> a validated `model::Scenario`.
//!
//! Only this module knows TOML. Every problem is collected with its location (file,
//! line and column where the text has one, else the override path) before anything runs.

pub mod dist;
mod locate;
mod overrides;
pub mod raw;
mod uncertain;
mod validate;
mod written;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::Scenario;
pub use overrides::{Override, parse_set};
use raw::RawScenario;
pub use uncertain::with_document;

/// One problem in a scenario: where, and what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Entity path such as `market.RU.payment[1].success`; empty for whole-file problems.
    pub path: String,
    pub message: String,
    /// `file:line:column` (or just `file`), filled in once the text is known.
    pub location: String,
}

impl Problem {
    /// The 1-based line and column in the scenario file, where the problem has them
    /// (not for a whole-file problem or one an override caused).
    pub fn line_column(&self) -> Option<(usize, usize)> {
        let (rest, column) = self.location.rsplit_once(':')?;
        let (_, line) = rest.rsplit_once(':')?;
        Some((line.parse().ok()?, column.parse().ok()?))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.location.is_empty() {
            write!(f, "{}: ", self.location)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Problems collected while reading a scenario.
#[derive(Debug, Clone, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn add(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.to_string(),
            message: message.into(),
            location: String::new(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }
}

/// Why a scenario could not be loaded. Each problem is on its own line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A `--set` argument that is not `PATH=VALUE`.
    #[error("{0}")]
    Override(String),
    #[error("{}: cannot read the scenario file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render(.0))]
    Invalid(Vec<Problem>),
}

fn render(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    lines.join("\n")
}

/// A scenario ready to run, with what is needed to record and reproduce it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub file: PathBuf,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
    pub variant: Option<String>,
    pub overrides: Vec<Override>,
    /// Uncertain parameters' values (`--uncertain`, `sweep`), applied before the variant.
    pub drawn: Vec<Override>,
}

/// Largest scenario file read, in bytes. The shipped scenarios are about 10 KB; a file
/// this size already holds thousands of entities, and parsing takes about 70 bytes of
/// memory per byte of text.
pub const MAX_SCENARIO_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a scenario file's text, refusing one too large before reading it.
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let read_error = |source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let len = file.metadata().map_err(read_error)?.len();
    let too_large = |len: u64| {
        ScenarioError::Invalid(vec![Problem {
            path: String::new(),
            message: format!(
                "the file is {len} bytes; scenario files may be at most {MAX_SCENARIO_BYTES} bytes"
            ),
            location: path.display().to_string(),
        }])
    };
    if len > MAX_SCENARIO_BYTES {
        return Err(too_large(len));
    }
    // Bounded again while reading: the file may grow (or be a pipe) after the check.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_SCENARIO_BYTES + 1),
        &mut bytes,
    )
    .map_err(read_error)?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        ))
    })
}

/// Reads, overrides and validates a scenario file.
pub fn load(
    path: &Path,
    variant: Option<&str>,
    sets: &[Override],
) -> Result<Loaded, ScenarioError> {
    load_drawn(path, &[], variant, sets)
}

/// As `load`, with uncertain parameters' values `drawn` applied before the variant (a
/// manifest's `uncertain`).
pub fn load_drawn(
    path: &Path,
    drawn: &[Override],
    variant: Option<&str>,
    sets: &[Override],
) -> Result<Loaded, ScenarioError> {
    let text = read_text(path)?;
    let name = path.display().to_string();
    let scenario = Document::parse(&text, &name)?.scenario_drawn(drawn, variant, sets)?;
    Ok(Loaded {
        scenario,
        file: path.to_path_buf(),
        sha256: sha256_hex(text.as_bytes()),
        variant: variant.map(str::to_string),
        overrides: sets.to_vec(),
        drawn: drawn.to_vec(),
    })
}

pub use crate::model::digest::sha256_hex;

/// As `load`, from text; `file` names the source in messages.
pub fn load_str(
    text: &str,
    file: &str,
    variant: Option<&str>,
    sets: &[Override],
) -> Result<Scenario, ScenarioError> {
    Document::parse(text, file)?.scenario(variant, sets)
}

/// A scenario file parsed and validated as written, ready to have overrides applied:
/// each variant then costs the scenario's size and its own overrides, not the file's
/// (which may hold thousands of variants).
pub struct Document<'a> {
    locator: locate::Locator<'a>,
    /// The file as written, validated, with its demand model.
    reference: Scenario,
    /// The parsed file without its `[[variant]]` list.
    table: toml::Table,
    variants: Vec<raw::RawVariant>,
    /// The file's `[[change]]` list, as written.
    changes: Vec<raw::RawChange>,
}

impl<'a> Document<'a> {
    pub fn parse(text: &'a str, file: &'a str) -> Result<Document<'a>, ScenarioError> {
        let locator = locate::Locator::new(text, file);
        let raw = deserialize_reporting_unknown_keys(text, file)?;
        let mut reference = validate::validate(&raw).map_err(|p| locator.located(p, &[]))?;
        let as_written = reference.clone();
        reference.apply_demand_model(&as_written);
        validate::check_volumes(&reference).map_err(|p| locator.located(p, &[]))?;
        let mut table: toml::Table = toml::from_str(text).map_err(|e| {
            let location = match e.span() {
                Some(span) => locate::line_col(text, file, span.start),
                None => file.to_string(),
            };
            ScenarioError::Invalid(vec![Problem {
                path: String::new(),
                message: e.message().trim_end().to_string(),
                location,
            }])
        })?;
        table.remove("variant");
        let mut document = Document {
            locator,
            reference,
            table,
            variants: raw.variant,
            changes: raw.change,
        };
        if !document.changes.is_empty() {
            let mut reference = document.reference.clone();
            document.add_epochs(&mut reference, &[], &document.changes)?;
            document.reference = reference;
        }
        Ok(document)
    }

    /// The names of the file's variants, in file order.
    pub fn variant_names(&self) -> impl Iterator<Item = &str> {
        self.variants.iter().map(|v| v.name.as_str())
    }

    /// The scenario with `variant`'s overrides and then `sets` applied, validated.
    pub fn scenario(
        &self,
        variant: Option<&str>,
        sets: &[Override],
    ) -> Result<Scenario, ScenarioError> {
        self.scenario_drawn(&[], variant, sets)
    }

    /// The scenario with `drawn` (uncertain parameters' values), then `variant`'s
    /// overrides, then `sets` applied, validated: a policy or a fixed value always wins
    /// over an assumption drawn, however its path is spelled.
    pub fn scenario_drawn(
        &self,
        drawn: &[Override],
        variant: Option<&str>,
        sets: &[Override],
    ) -> Result<Scenario, ScenarioError> {
        let mut all_sets = drawn.to_vec();
        if let Some(name) = variant {
            all_sets.extend(self.variant_sets(name)?);
        }
        all_sets.extend(sets.iter().cloned());
        if all_sets.is_empty() {
            return Ok(self.reference.clone());
        }
        let (mut scenario, raw) = self.build(&all_sets)?;
        self.add_epochs(&mut scenario, &all_sets, &raw.change)?;
        Ok(scenario)
    }

    /// A variant's overrides, or an error naming the variants there are.
    pub(super) fn variant_sets(&self, name: &str) -> Result<Vec<Override>, ScenarioError> {
        match self.variants.iter().find(|v| v.name == name) {
            Some(v) => Ok(v
                .set
                .iter()
                .map(|(path, value)| Override {
                    path: path.clone(),
                    value: value.clone(),
                    origin: format!("variant `{name}`"),
                })
                .collect()),
            None => {
                let known: Vec<&str> = self.variant_names().collect();
                let known = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                let mut problems = Problems::default();
                problems.add(
                    "",
                    format!("unknown variant `{name}`; the scenario's variants: {known}"),
                );
                Err(self.locator.located(problems, &[]))
            }
        }
    }

    /// Builds the scenario in force from each dated change on: `sets` then the changes
    /// up to it (in force order) applied to the file; each must differ from `scenario`
    /// in values only, not in what it is made of.
    fn add_epochs(
        &self,
        scenario: &mut Scenario,
        sets: &[Override],
        changes: &[raw::RawChange],
    ) -> Result<(), ScenarioError> {
        let made_of = shape(scenario);
        let mut epochs = Vec::with_capacity(scenario.changes.len());
        for (k, change) in scenario.changes.iter().enumerate() {
            let mut all = sets.to_vec();
            for c in &scenario.changes[..=k] {
                let raw = &changes[c.index];
                let origin = format!("change `{}` of {}", raw.name, raw.date);
                for (path, value) in &raw.set {
                    if ["scenario", "change", "variant"]
                        .iter()
                        .any(|top| path == top || path.starts_with(&format!("{top}.")))
                        || path.starts_with("change[")
                    {
                        let mut problems = Problems::default();
                        problems.add(
                            &format!("change[{}].set", c.index),
                            format!(
                                "`{path}`: a dated change sets the world's values, not the run's \
                                 (scenario.*), the changes or the variants"
                            ),
                        );
                        return Err(self.locator.located(problems, &[]));
                    }
                    all.push(Override {
                        path: path.clone(),
                        value: value.clone(),
                        origin: origin.clone(),
                    });
                }
            }
            let raw = &changes[change.index];
            let (epoch, _) = self.build(&all).map_err(|e| match e {
                ScenarioError::Invalid(mut problems) => {
                    for p in &mut problems {
                        p.message +=
                            &format!(" (with change `{}` of {} in force)", raw.name, raw.date);
                    }
                    ScenarioError::Invalid(problems)
                }
                other => other,
            })?;
            if shape(&epoch) != made_of {
                let mut problems = Problems::default();
                problems.add(
                    &format!("change[{}].set", change.index),
                    "a dated change may alter values, not what the scenario is made of (its \
                     markets, payment methods and how they collect, categories, seller pools' \
                     sizes, popularity and tiers, routes and their hubs, whether a route has \
                     a line-haul or a green lane and a market an exchange office)",
                );
                return Err(self.locator.located(problems, &[]));
            }
            epochs.push((change.day, std::sync::Arc::new(epoch)));
        }
        scenario.epochs = epochs;
        Ok(())
    }

    /// The file with `sets` applied, validated, with its demand model; and its raw form.
    fn build(&self, all_sets: &[Override]) -> Result<(Scenario, RawScenario), ScenarioError> {
        let mut table = self.table.clone();
        let mut problems = Problems::default();
        for o in all_sets {
            if o.path == "variant"
                || o.path.starts_with("variant.")
                || o.path.starts_with("variant[")
            {
                problems.add(
                    &o.path,
                    format!("variants cannot be overridden (from {})", o.origin),
                );
            } else if let Err(message) = overrides::apply(&mut table, &o.path, o.value.clone()) {
                problems.add(&o.path, format!("{message} (from {})", o.origin));
            }
        }
        let overridden: Vec<String> = all_sets.iter().map(|o| o.path.clone()).collect();
        if !problems.is_empty() {
            return Err(self.locator.located(problems, &overridden));
        }
        let raw = RawScenario::deserialize(toml::Value::Table(table)).map_err(|e| {
            let mut problems = Problems::default();
            let origins: Vec<String> = all_sets
                .iter()
                .map(|o| format!("{} = {} ({})", o.path, o.value, o.origin))
                .collect();
            problems.add(
                "",
                format!(
                    "after applying {}: {}",
                    origins.join(", "),
                    raw::in_user_terms(e.message().trim_end())
                ),
            );
            self.locator.located(problems, &overridden)
        })?;
        let written = &self.reference;
        let horizon = (written.start, written.date_of(written.days - 1));
        let mut scenario = validate::validate_within(&raw, Some(horizon))
            .map_err(|p| self.locator.located(p, &overridden))?;
        scenario.variants = self.reference.variants.clone();
        scenario.apply_demand_model(&self.reference);
        validate::check_volumes(&scenario).map_err(|p| self.locator.located(p, &overridden))?;
        Ok((scenario, raw))
    }
}

/// What a scenario is made of, as opposed to its values: dated changes must keep it.
fn shape(s: &Scenario) -> String {
    let markets: Vec<_> = s
        .markets
        .iter()
        .map(|m| {
            let methods: Vec<_> = m
                .payment
                .iter()
                .map(|p| (&p.method, p.at_delivery))
                .collect();
            (&m.id, methods, m.exchange_office.is_some())
        })
        .collect();
    let pools: Vec<_> = s
        .pools
        .iter()
        .map(|p| (&p.id, p.count, p.popularity_zipf.to_bits(), &p.size_tiers))
        .collect();
    let routes: Vec<_> = s
        .routes
        .iter()
        .map(|r| (&r.id, r.hub, r.linehaul.is_some(), r.green_lane))
        .collect();
    let hubs: Vec<_> = s.hubs.iter().map(|h| &h.id).collect();
    format!(
        "{markets:?} {:?} {pools:?} {routes:?} {hubs:?}",
        s.categories
    )
}

/// Most unknown keys reported from one file before giving up.
const MAX_UNKNOWN_KEYS: usize = 100;

/// Deserializes the raw scenario. serde stops at the first unknown key, so each one is
/// recorded (with its location and the keys expected there), removed from the parsed
/// document, and deserialization tried again: a file with several typos gets them all
/// named at once. Other errors (syntax, a wrong type) are reported as they come.
fn deserialize_reporting_unknown_keys(
    text: &str,
    file: &str,
) -> Result<RawScenario, ScenarioError> {
    let problem = |e: &toml::de::Error| {
        let offset = e.span().map(|span| span.start);
        let location = match offset {
            Some(offset) => locate::line_col(text, file, offset),
            None => file.to_string(),
        };
        let message = raw::in_user_terms(e.message().trim_end());
        (
            offset,
            Problem {
                path: String::new(),
                message,
                location,
            },
        )
    };
    // In file order, whatever order serde met them in.
    let report = |mut found: Vec<(Option<usize>, Problem)>| {
        found.sort_by_key(|(offset, _)| *offset);
        ScenarioError::Invalid(found.into_iter().map(|(_, p)| p).collect())
    };
    let mut root = toml::de::DeTable::parse(text).map_err(|e| report(vec![problem(&e)]))?;
    check_list_lengths(root.get_ref(), text, file)?;
    let mut found = Vec::new();
    loop {
        match RawScenario::deserialize(toml::de::Deserializer::from(root.clone())) {
            Ok(raw) if found.is_empty() => return Ok(raw),
            Ok(_) => return Err(report(found)),
            Err(e) => {
                found.push(problem(&e));
                let removed = e.message().starts_with("unknown field")
                    && found.len() < MAX_UNKNOWN_KEYS
                    && e.span()
                        .is_some_and(|span| remove_key_at(root.get_mut(), span.start));
                if !removed {
                    return Err(report(found));
                }
            }
        }
    }
}

/// Refuses a file with more entries in a top-level list than the scenario language
/// allows, before a typed value is made for any of them.
fn check_list_lengths(
    root: &toml::de::DeTable,
    text: &str,
    file: &str,
) -> Result<(), ScenarioError> {
    let limits = crate::model::rules::TOP_LEVEL_LIMITS;
    let problems: Vec<Problem> = root
        .iter()
        .filter_map(|(key, value)| {
            let (kind, max) = limits.iter().find(|(k, _)| *k == key.get_ref())?;
            let toml::de::DeValue::Array(items) = value.get_ref() else {
                return None;
            };
            (items.len() > *max).then(|| Problem {
                path: (*kind).to_string(),
                message: format!(
                    "at most {max} [[{kind}]] entries are supported, found {}",
                    items.len()
                ),
                location: locate::line_col(text, file, key.span().start),
            })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ScenarioError::Invalid(problems))
    }
}

/// Removes the key that starts at byte `offset` from the document; false if none does.
fn remove_key_at(table: &mut toml::de::DeTable, offset: usize) -> bool {
    let found = table
        .iter()
        .find(|(key, _)| key.span().start == offset)
        .map(|(key, _)| key.clone());
    if let Some(key) = found {
        return table.remove(&key).is_some();
    }
    table
        .iter_mut()
        .any(|(_, value)| remove_in_value(value.get_mut(), offset))
}

fn remove_in_value(value: &mut toml::de::DeValue, offset: usize) -> bool {
    match value {
        toml::de::DeValue::Table(t) => remove_key_at(t, offset),
        toml::de::DeValue::Array(items) => items
            .iter_mut()
            .any(|item| remove_in_value(item.get_mut(), offset)),
        _ => false,
    }
}

/// The names and descriptions of a scenario's variants, without validating it.
pub fn variant_names(text: &str) -> Vec<(String, String)> {
    #[derive(Deserialize)]
    struct Variants {
        #[serde(default)]
        variant: Vec<Named>,
    }
    #[derive(Deserialize)]
    struct Named {
        name: String,
        #[serde(default)]
        description: String,
    }
    toml::from_str::<Variants>(text)
        .map(|v| {
            v.variant
                .into_iter()
                .map(|n| (n.name, n.description))
                .collect()
        })
        .unwrap_or_default()
}
