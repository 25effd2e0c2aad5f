//! Maps a problem's entity path back to `file:line:column` in the scenario text.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::overrides::{element_name, segments};

/// `file:line:column` of the deepest part of `path` found in `text`; for a path an
/// override set, the override is the location that matters, so it is named instead.
pub fn locate(text: &str, file: &str, path: &str, overridden: &[String]) -> String {
    if let Some(o) = overridden.iter().find(|o| {
        path == o.as_str()
            || path.starts_with(&format!("{o}."))
            || path.starts_with(&format!("{o}["))
    }) {
        return format!("{file} (override {o})");
    }
    match span_of(text, path) {
        Some(offset) => line_col(text, file, offset),
        None => file.to_string(),
    }
}

/// `file:line:column` (1-based) of a byte offset.
pub fn line_col(text: &str, file: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{file}:{line}:{column}")
}

fn span_of(text: &str, path: &str) -> Option<usize> {
    if path.is_empty() {
        return None;
    }
    let root = DeTable::parse(text).ok()?;
    let segs = segments(path).ok()?;
    let mut best = None;
    let mut table: &DeTable = root.get_ref();
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
