//! The tables a report reads: one function per table, each reading its columns by name,
//! so that a column added or moved changes nothing here.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::projection::EntityKind;

/// A CSV file read whole, its header kept for finding columns by name.
struct Csv {
    path: PathBuf,
    header: csv::StringRecord,
    rows: Vec<csv::StringRecord>,
}

impl Csv {
    fn read(path: &Path) -> Result<Csv, Error> {
        let bad = |e: csv::Error| Error::BadInput(format!("{}: {e}", path.display()));
        let mut reader = csv::Reader::from_path(path).map_err(|e| match e.kind() {
            csv::ErrorKind::Io(_) => {
                Error::BadInput(format!("{}: cannot read it: {e}", path.display()))
            }
            _ => bad(e),
        })?;
        let header = reader.headers().map_err(bad)?.clone();
        let rows = reader
            .records()
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        Ok(Csv {
            path: path.to_path_buf(),
            header,
            rows,
        })
    }

    /// The index of column `name`, or an error naming the file and the columns it has.
    fn column(&self, name: &str) -> Result<Column, Error> {
        match self.header.iter().position(|h| h == name) {
            Some(index) => Ok(Column {
                index,
                name: name.to_string(),
            }),
            None => Err(Error::BadInput(format!(
                "{}: no column `{name}` (its header is `{}`)",
                self.path.display(),
                self.header.iter().collect::<Vec<_>>().join(",")
            ))),
        }
    }

    fn text<'a>(&self, row: &'a csv::StringRecord, col: &Column) -> &'a str {
        row.get(col.index).unwrap_or("")
    }

    /// A number, `None` for an empty cell, an error naming the line for anything else.
    fn number(&self, row: &csv::StringRecord, col: &Column) -> Result<Option<f64>, Error> {
        let text = self.text(row, col);
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(Error::BadInput(format!(
                "{}: line {}, column `{}`: expected a number, found `{text}`",
                self.path.display(),
                row.position().map_or(0, |p| p.line()),
                col.name
            ))),
        }
    }

    /// Every listed column's number for each row.
    fn numbers<const N: usize>(&self, names: [&str; N]) -> Result<Vec<[Option<f64>; N]>, Error> {
        let cols = names
            .iter()
            .map(|n| self.column(n))
            .collect::<Result<Vec<_>, _>>()?;
        self.rows
            .iter()
            .map(|row| {
                let mut out = [None; N];
                for (o, c) in out.iter_mut().zip(&cols) {
                    *o = self.number(row, c)?;
                }
                Ok(out)
            })
            .collect()
    }

    /// Every listed column's text for each row.
    fn texts<const N: usize>(&self, names: [&str; N]) -> Result<Vec<[String; N]>, Error> {
        let cols = names
            .iter()
            .map(|n| self.column(n))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .rows
            .iter()
            .map(|row| std::array::from_fn(|i| self.text(row, &cols[i]).to_string()))
            .collect())
    }
}

struct Column {
    index: usize,
    name: String,
}

/// The `entity_kind` of a row of `summary.csv` or `compare.csv`.
fn entity_kind(csv: &Csv, row: &csv::StringRecord, col: &Column) -> Result<EntityKind, Error> {
    let text = csv.text(row, col);
    EntityKind::parse(text).ok_or_else(|| {
        Error::BadInput(format!(
            "{}: line {}, column `entity_kind`: unknown kind `{text}`",
            csv.path.display(),
            row.position().map_or(0, |p| p.line())
        ))
    })
}

/// One headline figure of `summary.csv`.
#[derive(Debug, Clone)]
pub struct Headline {
    pub kind: EntityKind,
    /// A market's id, `all`, a seller pool's or a facility's name.
    pub entity: String,
    pub metric: String,
    pub value: Option<f64>,
}

pub fn summary(dir: &Path) -> Result<Vec<Headline>, Error> {
    let csv = Csv::read(&dir.join("summary.csv"))?;
    let [kind, entity, metric, value] =
        ["entity_kind", "entity", "metric", "value"].map(|c| csv.column(c));
    let (kind, entity, metric, value) = (kind?, entity?, metric?, value?);
    csv.rows
        .iter()
        .map(|row| {
            Ok(Headline {
                kind: entity_kind(&csv, row, &kind)?,
                entity: csv.text(row, &entity).to_string(),
                metric: csv.text(row, &metric).to_string(),
                value: csv.number(row, &value)?,
            })
        })
        .collect()
}

/// Daily values of several series: `values[series][day]`, dates and series in the order
/// they first appear.
#[derive(Debug, Clone, Default)]
pub struct Daily {
    pub dates: Vec<String>,
    pub names: Vec<String>,
    pub values: Vec<Vec<Option<f64>>>,
}

impl Daily {
    fn from_rows(rows: impl Iterator<Item = (String, String, Option<f64>)>) -> Daily {
        let mut d = Daily::default();
        for (date, name, value) in rows {
            let day = position_or_push(&mut d.dates, &date);
            let series = position_or_push(&mut d.names, &name);
            if series == d.values.len() {
                d.values.push(Vec::new());
            }
            for v in &mut d.values {
                v.resize(d.dates.len(), None);
            }
            d.values[series][day] = value;
        }
        d
    }
}

fn position_or_push(list: &mut Vec<String>, item: &str) -> usize {
    list.iter().position(|x| x == item).unwrap_or_else(|| {
        list.push(item.to_string());
        list.len() - 1
    })
}

/// Orders placed per day and market (`daily_markets.csv`).
pub fn daily_orders(dir: &Path) -> Result<Daily, Error> {
    let csv = Csv::read(&dir.join("daily_markets.csv"))?;
    let keys = csv.texts(["date", "market"])?;
    let orders = csv.numbers(["orders"])?;
    Ok(Daily::from_rows(
        keys.into_iter()
            .zip(orders)
            .map(|([date, market], [n])| (date, market, n)),
    ))
}

/// Parcels waiting at each facility at the end of each day (`daily_facilities.csv`),
/// each named with its kind (`hub HUB`, `linehaul CN:RU`, `exchange RU`).
pub fn daily_backlog(dir: &Path) -> Result<Daily, Error> {
    let csv = Csv::read(&dir.join("daily_facilities.csv"))?;
    let keys = csv.texts(["date", "kind", "facility"])?;
    let backlog = csv.numbers(["backlog"])?;
    Ok(Daily::from_rows(keys.into_iter().zip(backlog).map(
        |([date, kind, facility], [n])| (date, format!("{kind} {facility}"), n),
    )))
}

/// One row of `lead_times.csv`: days from placement to delivery on a market's route.
#[derive(Debug, Clone)]
pub struct LeadTime {
    pub market: String,
    pub route: String,
    /// delivered, mean, p50, p90, p95, p99, max (days but the first).
    pub figures: [Option<f64>; 7],
}

pub const LEAD_TIME_COLUMNS: [&str; 7] = [
    "delivered",
    "mean_days",
    "p50_days",
    "p90_days",
    "p95_days",
    "p99_days",
    "max_days",
];

pub fn lead_times(dir: &Path) -> Result<Vec<LeadTime>, Error> {
    let csv = Csv::read(&dir.join("lead_times.csv"))?;
    let keys = csv.texts(["market", "route"])?;
    let figures = csv.numbers(LEAD_TIME_COLUMNS)?;
    Ok(keys
        .into_iter()
        .zip(figures)
        .map(|([market, route], figures)| LeadTime {
            market,
            route,
            figures,
        })
        .collect())
}

/// One row of `payments.csv`: a market's payment method.
#[derive(Debug, Clone)]
pub struct Payment {
    pub market: String,
    pub method: String,
    /// In the order of `PAYMENT_COLUMNS`.
    pub figures: [Option<f64>; 8],
}

pub const PAYMENT_COLUMNS: [&str; 8] = [
    "orders",
    "attempts",
    "success_rate",
    "cancelled",
    "cancel_rate",
    "abandon_rate",
    "refusal_rate",
    "fees_usd",
];

pub fn payments(dir: &Path) -> Result<Vec<Payment>, Error> {
    let csv = Csv::read(&dir.join("payments.csv"))?;
    let keys = csv.texts(["market", "method"])?;
    let figures = csv.numbers(PAYMENT_COLUMNS)?;
    Ok(keys
        .into_iter()
        .zip(figures)
        .map(|([market, method], figures)| Payment {
            market,
            method,
            figures,
        })
        .collect())
}

/// A seller pool's row for a market over all its tiers (`sellers.csv`, tier `all`).
#[derive(Debug, Clone)]
pub struct Sellers {
    pub sellers: String,
    pub market: String,
    /// In the order of `SELLER_COLUMNS`.
    pub figures: [Option<f64>; 6],
}

pub const SELLER_COLUMNS: [&str; 6] = [
    "orders",
    "revenue_usd",
    "order_share",
    "net_usd",
    "mean_days_to_cash",
    "sellers_active",
];

pub fn sellers(dir: &Path) -> Result<Vec<Sellers>, Error> {
    let csv = Csv::read(&dir.join("sellers.csv"))?;
    let keys = csv.texts(["sellers", "market", "tier"])?;
    let figures = csv.numbers(SELLER_COLUMNS)?;
    Ok(keys
        .into_iter()
        .zip(figures)
        .filter(|([_, _, tier], _)| tier == "all")
        .map(|([sellers, market, _], figures)| Sellers {
            sellers,
            market,
            figures,
        })
        .collect())
}

/// One row of `compare.csv`: a metric's paired difference for a variant.
#[derive(Debug, Clone)]
pub struct Difference {
    pub kind: EntityKind,
    pub entity: String,
    pub metric: String,
    pub variant: String,
    pub baseline_mean: Option<f64>,
    pub variant_mean: Option<f64>,
    pub diff: Option<f64>,
    pub rel_diff: Option<f64>,
    pub ci95: Option<(f64, f64)>,
    pub significant: Option<bool>,
    pub sd_diff: Option<f64>,
    pub replications: Option<f64>,
}

impl Difference {
    /// The metric's full name, as the terminal table prints it.
    pub fn name(&self) -> String {
        format!("{}.{}", self.kind.label(&self.entity), self.metric)
    }

    /// Equal to the baseline in every replication (common random numbers at work).
    pub fn identical(&self) -> bool {
        self.diff == Some(0.0) && self.sd_diff.unwrap_or(0.0) == 0.0
    }
}

pub fn compare(dir: &Path) -> Result<Vec<Difference>, Error> {
    let csv = Csv::read(&dir.join("compare.csv"))?;
    let kind = csv.column("entity_kind")?;
    let keys = csv.texts(["entity", "metric", "variant", "significant"])?;
    let figures = csv.numbers([
        "baseline_mean",
        "variant_mean",
        "diff",
        "rel_diff",
        "ci95_low",
        "ci95_high",
        "sd_diff",
        "replications",
    ])?;
    keys.into_iter()
        .zip(figures)
        .zip(&csv.rows)
        .map(|(([entity, metric, variant, significant], f), row)| {
            let significant = match significant.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                "" => None,
                other => {
                    return Err(Error::BadInput(format!(
                        "{}: line {}, column `significant`: expected true, false or nothing, found `{other}`",
                        csv.path.display(),
                        row.position().map_or(0, |p| p.line())
                    )));
                }
            };
            Ok(Difference {
                kind: entity_kind(&csv, row, &kind)?,
                entity,
                metric,
                variant,
                baseline_mean: f[0],
                variant_mean: f[1],
                diff: f[2],
                rel_diff: f[3],
                ci95: f[4].zip(f[5]),
                significant,
                sd_diff: f[6],
                replications: f[7],
            })
        })
        .collect()
}

/// `compare_daily.csv`: for each of its series columns (after `date` and `variant`), the
/// arms' daily means.
pub fn compare_daily(dir: &Path) -> Result<Vec<(String, Daily)>, Error> {
    let csv = Csv::read(&dir.join("compare_daily.csv"))?;
    let keys = csv.texts(["date", "variant"])?;
    let series: Vec<String> = csv
        .header
        .iter()
        .filter(|h| *h != "date" && *h != "variant")
        .map(str::to_string)
        .collect();
    series
        .into_iter()
        .map(|name| {
            let col = csv.column(&name)?;
            let values = csv
                .rows
                .iter()
                .map(|row| csv.number(row, &col))
                .collect::<Result<Vec<_>, _>>()?;
            let daily = Daily::from_rows(
                keys.iter()
                    .zip(values)
                    .map(|([date, arm], v)| (date.clone(), arm.clone(), v)),
            );
            Ok((name, daily))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_kinds_read_back_as_written_and_label_facilities_behind_their_kind() {
        for kind in [
            EntityKind::Market,
            EntityKind::All,
            EntityKind::Sellers,
            EntityKind::Hub,
            EntityKind::Linehaul,
            EntityKind::Exchange,
        ] {
            assert_eq!(EntityKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(EntityKind::parse("office"), None);
        assert_eq!(EntityKind::Exchange.label("RU"), "exchange.RU");
        assert_eq!(EntityKind::Market.label("RU"), "RU");
    }

    #[test]
    fn daily_rows_fill_a_grid_with_gaps_where_a_series_has_no_row() {
        let rows = [
            ("d1", "a", Some(1.0)),
            ("d1", "b", Some(2.0)),
            ("d2", "a", None),
            ("d3", "b", Some(4.0)),
        ];
        let d = Daily::from_rows(
            rows.iter()
                .map(|(d, n, v)| (d.to_string(), n.to_string(), *v)),
        );
        assert_eq!(d.dates, ["d1", "d2", "d3"]);
        assert_eq!(d.names, ["a", "b"]);
        assert_eq!(d.values[0], [Some(1.0), None, None]);
        assert_eq!(d.values[1], [Some(2.0), None, Some(4.0)]);
    }
}
