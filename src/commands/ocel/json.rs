//! The elements of OCEL 2.0's JSON form, as PM4Py's `read_ocel2_json` reads them, and
//! the ids and timestamps they carry.

use serde::Serialize;

use crate::event::context::{Context, FacilityDim};
use crate::model::date::{DAY_S, Date, UtcOffset};

/// Static object attributes carry this time, as the standard's examples and PM4Py do.
pub(super) const EPOCH: &str = "1970-01-01T00:00:00Z";

/// An OCEL attribute's type, as the standard names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum AttrType {
    String,
    Integer,
    Boolean,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Value<'a> {
    Text(&'a str),
    Integer(u64),
    Boolean(bool),
}

impl Value<'_> {
    #[cfg(test)]
    pub(super) fn attr_type(&self) -> AttrType {
        match self {
            Value::Text(_) => AttrType::String,
            Value::Integer(_) => AttrType::Integer,
            Value::Boolean(_) => AttrType::Boolean,
        }
    }
}

#[derive(Serialize)]
pub(super) struct TypeOut<'a> {
    pub(super) name: &'a str,
    pub(super) attributes: Vec<AttrDecl<'a>>,
}

#[derive(Serialize)]
pub(super) struct AttrDecl<'a> {
    pub(super) name: &'a str,
    #[serde(rename = "type")]
    pub(super) kind: AttrType,
}

#[derive(Serialize)]
pub(super) struct EventAttr<'a> {
    pub(super) name: &'static str,
    pub(super) value: Value<'a>,
}

#[derive(Serialize)]
pub(super) struct ObjectAttr<'a> {
    pub(super) name: &'static str,
    pub(super) time: &'static str,
    pub(super) value: Value<'a>,
}

#[derive(Serialize)]
pub(super) struct Relation {
    #[serde(rename = "objectId")]
    pub(super) object_id: String,
    pub(super) qualifier: &'static str,
}

#[derive(Serialize)]
pub(super) struct EventOut<'a> {
    pub(super) id: String,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) time: String,
    pub(super) attributes: Vec<EventAttr<'a>>,
    pub(super) relationships: Vec<Relation>,
}

#[derive(Serialize)]
pub(super) struct ObjectOut<'a> {
    pub(super) id: String,
    #[serde(rename = "type")]
    pub(super) kind: &'a str,
    pub(super) attributes: Vec<ObjectAttr<'a>>,
    pub(super) relationships: Vec<Relation>,
}

pub(super) fn type_out<'a>(name: &'a str, attrs: &[(&'a str, AttrType)]) -> TypeOut<'a> {
    TypeOut {
        name,
        attributes: attrs
            .iter()
            .map(|&(name, kind)| AttrDecl { name, kind })
            .collect(),
    }
}

/// ISO 8601 on the scenario's clock, with its offset from UTC: time 0 is midnight of
/// `start` on that clock, as in the tables' dates.
pub(super) fn timestamp(start: Date, offset: UtcOffset, time_s: u32) -> String {
    let date = start.add_days(i64::from(time_s / DAY_S));
    let s = time_s % DAY_S;
    format!(
        "{date}T{:02}:{:02}:{:02}{offset}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

pub(super) fn order_id(id: u64) -> String {
    format!("order-{id}")
}

pub(super) fn parcel_id(id: u64) -> String {
    format!("parcel-{id}")
}

pub(super) fn market_id(id: &str) -> String {
    format!("market-{id}")
}

pub(super) fn seller_id(ctx: &Context, pool: u8, rank: u32) -> String {
    format!("seller-{}/{rank}", ctx.pools[usize::from(pool)].id)
}

/// A facility's id, prefixed with its kind: an exchange office's id is its market's.
pub(super) fn facility_id(f: &FacilityDim) -> String {
    format!("{}-{}", f.kind.name(), f.id)
}

pub(super) fn relation(object_id: String, qualifier: &'static str) -> Relation {
    Relation {
        object_id,
        qualifier,
    }
}

pub(super) fn plain_object(id: String, kind: &str) -> ObjectOut<'_> {
    ObjectOut {
        id,
        kind,
        attributes: Vec::new(),
        relationships: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_on_the_scenarios_clock() {
        let start = Date::parse("2016-12-31").unwrap();
        let utc = UtcOffset::UTC;
        assert_eq!(timestamp(start, utc, 0), "2016-12-31T00:00:00+00:00");
        assert_eq!(timestamp(start, utc, 86_399), "2016-12-31T23:59:59+00:00");
        let moscow = UtcOffset::parse("+03:00").unwrap();
        assert_eq!(
            timestamp(start, moscow, 86_400 + 3_723),
            "2017-01-01T01:02:03+03:00"
        );
        let west = UtcOffset::parse("-03:30").unwrap();
        assert_eq!(timestamp(start, west, 59), "2016-12-31T00:00:59-03:30");
    }
}
