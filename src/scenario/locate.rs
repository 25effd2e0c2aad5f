//! Maps a problem's entity path back to `file:line:column` in the scenario text.

use std::sync::OnceLock;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::overrides::{element_name, segments};
use super::{Problems, ScenarioError};

/// Locates problems in one text, parsing it once however many problems there are.
pub struct Locator<'a> {
    text: &'a str,
    file: &'a str,
    root: OnceLock<Option<Spanned<DeTable<'a>>>>,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str, file: &'a str) -> Locator<'a> {
        Locator {
            text,
            file,
            root: OnceLock::new(),
        }
    }

    /// A locator of the same text (parsed anew, if a problem needs it).
    pub fn again(&self) -> Locator<'a> {
        Locator::new(self.text, self.file)
    }

    /// The problems, each with its location, as an error.
    pub fn located(&self, problems: Problems, overridden: &[String]) -> ScenarioError {
        let problems = problems
            .0
            .into_iter()
            .map(|mut p| {
                p.location = self.locate(&p.path, overridden);
                p
            })
            .collect();
        ScenarioError::Invalid(problems)
    }

    /// `file:line:column` of the deepest part of `path` found in the text; for a path an
    /// override set, the override is the location that matters, so it is named instead.
    pub fn locate(&self, path: &str, overridden: &[String]) -> String {
        if let Some(o) = overridden.iter().find(|o| {
            path == o.as_str()
                || path.starts_with(&format!("{o}."))
                || path.starts_with(&format!("{o}["))
        }) {
            return format!("{} (override {o})", self.file);
        }
        let root = self.root.get_or_init(|| DeTable::parse(self.text).ok());
        match root.as_ref().and_then(|root| span_of(root.get_ref(), path)) {
            Some(offset) => line_col(self.text, self.file, offset),
            None => self.file.to_string(),
        }
    }
}

/// `file:line:column` (1-based) of a byte offset.
pub fn line_col(text: &str, file: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{file}:{line}:{column}")
}

fn span_of(root: &DeTable, path: &str) -> Option<usize> {
    if path.is_empty() {
        return None;
    }
    let segs = segments(path).ok()?;
    let mut best = None;
    let mut table: &DeTable = root;
    let mut i = 0;
    while i < segs.len() {
        let seg = &segs[i];
        let (key, mut value) = table.iter().find(|(k, _)| k.get_ref() == seg.key)?;
        best = Some(key.span().start);
        if let DeValue::Array(items) = value.get_ref() {
            let element = match seg.index {
                Some(n) => items.get(n),
                None => segs.get(i + 1).and_then(|next| {
                    i += 1;
                    items
                        .iter()
                        .find(|item| name_of(item).as_deref() == Some(next.key))
                }),
            };
            let Some(element) = element else { return best };
            best = Some(element.span().start);
            value = element;
        }
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return best,
        }
        i += 1;
    }
    best
}

fn name_of(item: &Spanned<DeValue>) -> Option<String> {
    let DeValue::Table(t) = item.get_ref() else {
        return None;
    };
    element_name(|key| {
        t.iter()
            .find(|(k, _)| k.get_ref() == key)
            .and_then(|(_, v)| match v.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                _ => None,
            })
    })
}
