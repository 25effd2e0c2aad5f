//! Overrides: `PATH=VALUE` pairs from a variant's `set` table or the command line,
//! applied to the parsed TOML before it becomes typed.
//!
//! A path walks tables by key and arrays of tables by an element's identity: its `id`,
//! `method` or `name`, or for routes `SELLERS:MARKET`; `[N]` picks an element by index.
//! `market.RU.customs.de_minimis_usd`, `market.IN.payment.cod.share`, `hub.MY-DFTZ.lines`.

use toml::{Table, Value};

/// One `PATH=VALUE` override and where it came from (for messages and the manifest).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub path: String,
    /// TOML stays inside the scenario layer: others see the value as text.
    pub(in crate::scenario) value: Value,
    pub origin: String,
}

impl Override {
    /// The value in TOML syntax, as `--set` takes it.
    pub fn value_text(&self) -> String {
        self.value.to_string()
    }
}

/// `PATH=VALUE`, VALUE in TOML syntax: what `parse_set` reads back.
impl std::fmt::Display for Override {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.path, self.value)
    }
}

/// Parses a command-line `PATH=VALUE`. The value is read as TOML (`0.15`, `"x"`,
/// `[1, 2]`, `{ dist = "constant", value_days = 2 }`); a bare word that is not TOML is
/// taken as a string, so `--set route.MY-SME:RU.via=MY-DFTZ` needs no quotes.
pub fn parse_set(arg: &str) -> Result<Override, super::ScenarioError> {
    let bad = |m: String| super::ScenarioError::Override(m);
    let Some((path, value)) = arg.split_once('=') else {
        return Err(bad(format!(
            "--set `{arg}`: expected PATH=VALUE, e.g. market.RU.customs.duty_rate=0.15"
        )));
    };
    let path = path.trim();
    if path.is_empty() {
        return Err(bad(format!("--set `{arg}`: the path before `=` is empty")));
    }
    let value = value.trim();
    let parsed = toml::from_str::<Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(value.to_string()));
    Ok(Override {
        path: path.to_string(),
        value: parsed,
        origin: format!("--set {path}={value}"),
    })
}

/// One step of a path: a key, optionally followed by `[index]`.
pub(crate) struct Segment<'a> {
    pub key: &'a str,
    pub index: Option<usize>,
}

pub(crate) fn segments(path: &str) -> Result<Vec<Segment<'_>>, String> {
    parts(path)?
        .into_iter()
        .map(|part| {
            if part.is_empty() {
                return Err(format!("empty segment in path `{path}`"));
            }
            // A key with dots in it, as a dated change's `set` has: `"market.IN.x"`.
            if let Some(quoted) = part.strip_prefix('"') {
                return match quoted.strip_suffix('"') {
                    Some(key) if !key.is_empty() && !key.contains('"') => {
                        Ok(Segment { key, index: None })
                    }
                    _ => Err(format!(
                        "bad quoted key `{part}` in path `{path}`: expected `\"KEY\"`"
                    )),
                };
            }
            match part.split_once('[') {
                Some((key, rest)) => {
                    let index = rest
                        .strip_suffix(']')
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| format!("bad index in `{part}`: expected `name[N]`"))?;
                    Ok(Segment {
                        key,
                        index: Some(index),
                    })
                }
                None => Ok(Segment {
                    key: part,
                    index: None,
                }),
            }
        })
        .collect()
}

/// `path` split at the dots outside double quotes.
fn parts(path: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in path.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => {
                parts.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err(format!("unclosed quote in path `{path}`"));
    }
    parts.push(&path[start..]);
    Ok(parts)
}

/// The identity an array element answers to in a path.
pub(crate) fn element_name(get: impl Fn(&str) -> Option<String>) -> Option<String> {
    ["id", "method", "name"]
        .iter()
        .find_map(|k| get(k))
        .or_else(|| Some(format!("{}:{}", get("sellers")?, get("market")?)))
}

fn names_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| {
            let table = item.as_table()?;
            element_name(|k| table.get(k)?.as_str().map(str::to_string))
        })
        .collect()
}

fn list(names: impl IntoIterator<Item = String>) -> String {
    let names: Vec<String> = names.into_iter().collect();
    if names.is_empty() {
        "nothing".to_string()
    } else {
        names.join(", ")
    }
}

/// Sets `path` to `value` in `root`. The last key may be new (an optional key the file
/// left out); every step before it must exist.
pub fn apply(root: &mut Table, path: &str, value: Value) -> Result<(), String> {
    let segs = segments(path)?;
    let mut table = root;
    let mut walked = String::new();
    let mut i = 0;
    while i < segs.len() {
        let seg = &segs[i];
        let last = i + 1 == segs.len();
        let here = if walked.is_empty() {
            "the scenario".to_string()
        } else {
            format!("`{walked}`")
        };
        if last && seg.index.is_none() {
            if walked.is_empty()
                && matches!(table.get(seg.key), Some(Value::Table(_) | Value::Array(_)))
            {
                return Err(format!(
                    "`{}` is a whole section of the scenario; set a key inside it, e.g. `{}.KEY=VALUE`",
                    seg.key, seg.key
                ));
            }
            let value = match (table.get(seg.key), value) {
                // `--set x=2` on a float key means 2.0.
                (Some(Value::Float(_)), Value::Integer(n)) => Value::Float(n as f64),
                (_, Value::Datetime(d)) => Value::String(d.to_string()),
                (_, v) => v,
            };
            table.insert(seg.key.to_string(), value);
            return Ok(());
        }
        let keys = list(table.keys().cloned());
        let Some(entry) = table.get_mut(seg.key) else {
            return Err(format!("{here} has no `{}`; it has: {keys}", seg.key));
        };
        push(&mut walked, seg.key);
        let target: &mut Value = match (entry, seg.index) {
            (Value::Array(items), Some(n)) => {
                let len = items.len();
                push_index(&mut walked, n);
                items
                    .get_mut(n)
                    .ok_or_else(|| format!("`{}` has {len} elements, so no index {n}", seg.key))?
            }
            (Value::Array(items), None) => {
                let Some(name) = segs.get(i + 1).map(|s| s.key) else {
                    return Err(format!(
                        "`{walked}` is a list: name an element, e.g. `{walked}.ID`"
                    ));
                };
                let names = names_of(items);
                let Some(pos) = names.iter().position(|n| n == name) else {
                    return Err(format!(
                        "`{walked}` has no element `{name}`; it has: {}",
                        list(names)
                    ));
                };
                i += 1;
                push(&mut walked, name);
                if i + 1 == segs.len() && segs[i].index.is_none() {
                    if !value.is_table() {
                        return Err(format!(
                            "`{walked}` is a whole entry; set a key inside it, e.g. `{walked}.KEY=VALUE`, \
                             or give a table"
                        ));
                    }
                    items[pos] = value;
                    return Ok(());
                }
                &mut items[pos]
            }
            (other, Some(_)) => {
                return Err(format!(
                    "`{walked}` is not a list: {}",
                    crate::scenario::dist::describe(other)
                ));
            }
            (other, None) => other,
        };
        if last {
            *target = value;
            return Ok(());
        }
        table = match target {
            Value::Table(t) => t,
            other => {
                return Err(format!(
                    "`{walked}` is {}, so it has no `{}`",
                    crate::scenario::dist::describe(other),
                    segs[i + 1].key
                ));
            }
        };
        i += 1;
    }
    Ok(())
}

/// The value at `path` in `root`, walked as `apply` walks it.
pub fn get<'t>(root: &'t Table, path: &str) -> Result<&'t Value, String> {
    let segs = segments(path)?;
    let mut table = root;
    let mut i = 0;
    loop {
        let seg = &segs[i];
        let mut value = table
            .get(seg.key)
            .ok_or_else(|| format!("`{path}`: no `{}` where it is looked for", seg.key))?;
        match (value, seg.index) {
            (Value::Array(items), Some(n)) => {
                value = items
                    .get(n)
                    .ok_or_else(|| format!("`{path}`: `{}` has no index {n}", seg.key))?;
            }
            (Value::Array(items), None) => {
                i += 1;
                let name = segs
                    .get(i)
                    .ok_or_else(|| format!("`{path}` ends at a list: name an element"))?
                    .key;
                let pos = names_of(items)
                    .iter()
                    .position(|n| n == name)
                    .ok_or_else(|| format!("`{path}`: `{}` has no element `{name}`", seg.key))?;
                value = &items[pos];
            }
            (_, Some(_)) => return Err(format!("`{path}`: `{}` is not a list", seg.key)),
            (_, None) => {}
        }
        i += 1;
        if i == segs.len() {
            return Ok(value);
        }
        table = value
            .as_table()
            .ok_or_else(|| format!("`{path}`: no `{}` inside a value", segs[i].key))?;
    }
}

impl super::Document<'_> {
    /// The number at `path` in the file with `variant` and `sets` applied (the sum a
    /// `[[fit]]` and its balance keep is read here).
    pub fn number_at(
        &self,
        variant: Option<&str>,
        sets: &[Override],
        path: &str,
    ) -> Result<f64, super::ScenarioError> {
        let mut all = match variant {
            Some(name) => self.variant_sets(name)?,
            None => Vec::new(),
        };
        all.extend(sets.iter().cloned());
        let mut table = self.table.clone();
        let bad = |m: String| super::ScenarioError::Override(m);
        for o in &all {
            apply(&mut table, &o.path, o.value.clone()).map_err(bad)?;
        }
        let value = get(&table, path).map_err(bad)?;
        match value {
            toml::Value::Float(x) => Ok(*x),
            toml::Value::Integer(n) => Ok(*n as f64),
            other => Err(bad(format!(
                "`{path}` is {}, not a number",
                super::dist::describe(other)
            ))),
        }
    }
}

fn push(walked: &mut String, key: &str) {
    if !walked.is_empty() {
        walked.push('.');
    }
    walked.push_str(key);
}

fn push_index(walked: &mut String, n: usize) {
    walked.push_str(&format!("[{n}]"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Table {
        toml::from_str(
            r#"
            [scenario]
            days = 3
            [[market]]
            id = "RU"
            customs = { duty_rate = 0.3 }
            payment = [{ method = "card", share = 1.0 }]
            [[route]]
            sellers = "CN-SME"
            market = "RU"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn walks_ids_methods_indices_and_routes() {
        let mut t = doc();
        apply(&mut t, "market.RU.customs.duty_rate", Value::Integer(1)).unwrap();
        apply(&mut t, "market.RU.payment.card.share", Value::Float(0.5)).unwrap();
        apply(&mut t, "market[0].payment[0].success", Value::Float(0.9)).unwrap();
        apply(&mut t, "route.CN-SME:RU.via", Value::String("HUB".into())).unwrap();
        let m = &t["market"].as_array().unwrap()[0];
        assert_eq!(m["customs"]["duty_rate"], Value::Float(1.0));
        assert_eq!(m["payment"][0]["share"], Value::Float(0.5));
        assert_eq!(m["payment"][0]["success"], Value::Float(0.9));
        assert_eq!(t["route"][0]["via"], Value::String("HUB".into()));
    }

    #[test]
    fn names_what_is_missing_and_what_exists() {
        let mut t = doc();
        let e = apply(&mut t, "market.IN.customs.duty_rate", Value::Float(0.1)).unwrap_err();
        assert_eq!(e, "`market` has no element `IN`; it has: RU");
        let e = apply(&mut t, "markets.RU.days", Value::Float(0.1)).unwrap_err();
        assert_eq!(
            e,
            "the scenario has no `markets`; it has: market, route, scenario"
        );
        let e = apply(&mut t, "scenario.days.x", Value::Float(0.1)).unwrap_err();
        assert_eq!(e, "`scenario.days` is the integer 3, so it has no `x`");
    }

    #[test]
    fn quoted_keys_reach_a_changes_set_and_get_reads_what_apply_wrote() {
        let mut t: Table = toml::from_str(
            r#"
            [[change]]
            name = "shift"
            set = { "market.RU.payment.card.share" = 0.4 }
            "#,
        )
        .unwrap();
        let path = r#"change.shift.set."market.RU.payment.card.share""#;
        assert_eq!(get(&t, path).unwrap(), &Value::Float(0.4));
        apply(&mut t, path, Value::Float(0.7)).unwrap();
        assert_eq!(
            t["change"][0]["set"]["market.RU.payment.card.share"],
            Value::Float(0.7)
        );
        assert_eq!(get(&t, path).unwrap(), &Value::Float(0.7));
        let d = doc();
        assert_eq!(
            get(&d, "market.RU.customs.duty_rate").unwrap(),
            &Value::Float(0.3)
        );
        assert_eq!(
            get(&d, "market[0].payment[0].share").unwrap(),
            &Value::Float(1.0)
        );
        assert!(get(&d, "market.IN.customs").is_err());
        assert!(segments(r#"change.x.set."a.b"#).is_err(), "unclosed quote");
        assert!(
            segments(r#"change.x.set."a"b""#).is_err(),
            "a quote inside a key"
        );
    }

    #[test]
    fn parses_set_values() {
        assert_eq!(parse_set("a.b=0.15").unwrap().value, Value::Float(0.15));
        assert_eq!(
            parse_set("a.b=MY-DFTZ").unwrap().value,
            Value::String("MY-DFTZ".into())
        );
        assert_eq!(
            parse_set("a.b=\"\"").unwrap().value,
            Value::String(String::new())
        );
        assert!(parse_set("a.b").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Any `--set` text is parsed or refused, and any parsed override is applied to a
        /// real scenario or refused with problems: never a panic.
        #[test]
        fn any_set_is_applied_or_refused(
            path in "(scenario|market|hub|sellers|route|peak|variant|RU|IN|HUB|CN|MY|\\[[0-9]\\]|customs|duty_rate|lines|weekly|payment|card|share|\\.|x){0,8}",
            value in "[-0-9a-z.\\[\\]{}=\", eE+]{0,24}",
        ) {
            let text = include_str!("../../tests/data/tiny.toml");
            if let Ok(o) = parse_set(&format!("{path}={value}")) {
                let _ = crate::scenario::load_str(text, "tiny.toml", None, &[o]);
            }
        }

        /// A number set on a number key is the number the scenario then holds.
        #[test]
        fn a_set_rate_is_the_rate_run(rate in 0.0f64..1.0) {
            let text = include_str!("../../tests/data/tiny.toml");
            let o = parse_set(&format!("market.RU.customs.duty_rate={rate:?}")).unwrap();
            let s = crate::scenario::load_str(text, "tiny.toml", None, &[o]).unwrap();
            proptest::prop_assert_eq!(s.markets[0].customs.duty_rate, rate);
        }
    }
}
