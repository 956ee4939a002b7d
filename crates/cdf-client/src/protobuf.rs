//! Decodes CDF's protobuf answer to `/timeseries/data/list` (`Accept: application/protobuf`,
//! as the SDKs read datapoints): `DataPointListResponse` straight into compact points, with no
//! JSON in between. Field numbers of CDF's `data_point_list_response.proto` and
//! `data_points.proto`:
//!
//! ```text
//! DataPointListResponse { repeated DataPointListItem items = 1; }
//! DataPointListItem { int64 id = 1; string externalId = 2; NumericDatapoints numericDatapoints = 3;
//!     StringDatapoints stringDatapoints = 4; AggregateDatapoints aggregateDatapoints = 5;
//!     bool isString = 6; bool isStep = 7; string unit = 8; string nextCursor = 9;
//!     string unitExternalId = 10; InstanceId instanceId = 11; }
//! InstanceId { string space = 1; string externalId = 2; }
//! NumericDatapoints / StringDatapoints { repeated ...Datapoint datapoints = 1; }
//! NumericDatapoint { int64 timestamp = 1; double value = 2; Status status = 3; bool nullValue = 4; }
//! StringDatapoint  { int64 timestamp = 1; string value = 2; Status status = 3; bool nullValue = 4; }
//! Status { int64 code = 1; string symbol = 2; }
//! ```
//!
//! proto3 leaves default values out: a point without field 2 has the value 0 (or ""), one with
//! `nullValue` has none; a status without a symbol has the empty one.

use std::sync::Arc;

use cdf_tables::{Point, PointStatus, PointValue, SeriesAddress};

/// The points of one series of an answer, and the cursor to its next page.
#[derive(Debug, Default)]
pub struct SeriesPoints {
    /// Which series answered (also when it has no points: a multi-item answer's cursors).
    pub series: Arc<SeriesAddress>,
    pub points: Vec<Point>,
    pub next_cursor: Option<String>,
}

/// Why a body is not a `DataPointListResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

type Decoded<T> = Result<T, Malformed>;

enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
}

/// Reads the fields of one message in order.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Which message is read, for errors.
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Fields<'a> {
        Fields { buf, pos: 0, what }
    }

    fn fail(&self, why: &str) -> Malformed {
        Malformed(format!("{} at byte {} of {}: {why}", self.what, self.pos, self.buf.len()))
    }

    fn varint(&mut self) -> Decoded<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.fail("the body ends inside a number"));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.fail("a number longer than 10 bytes"))
    }

    fn take(&mut self, n: u64) -> Decoded<&'a [u8]> {
        let end = usize::try_from(n).ok().and_then(|n| self.pos.checked_add(n)).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            return Err(self.fail(&format!("a field of {n} bytes runs past the end")));
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn next_field(&mut self) -> Decoded<Option<(u64, Wire<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"))),
            2 => {
                let n = self.varint()?;
                Wire::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Wire::Varint(0)
            }
            other => return Err(self.fail(&format!("unknown wire type {other}"))),
        };
        Ok(Some((key >> 3, wire)))
    }
}

fn text(bytes: &[u8], f: &Fields) -> Decoded<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| f.fail("a string that is not UTF-8"))
}

/// Decodes a whole `DataPointListResponse`: the series in the answer's order.
pub fn decode_datapoint_list(body: &[u8]) -> Result<Vec<SeriesPoints>, Malformed> {
    let mut response = Fields::new(body, "DataPointListResponse");
    let mut series = Vec::new();
    while let Some((field, wire)) = response.next_field()? {
        if let (1, Wire::Bytes(item)) = (field, wire) {
            series.push(decode_item(item)?);
        }
    }
    Ok(series)
}

fn decode_item(item: &[u8]) -> Decoded<SeriesPoints> {
    let mut f = Fields::new(item, "DataPointListItem");
    let mut address = SeriesAddress::default();
    let mut next_cursor = None;
    // The points follow the address in CDF's answers, but protobuf allows any order: keep the
    // bodies and decode them once the address is known.
    let mut bodies: Vec<(bool, &[u8])> = Vec::new();
    while let Some((field, wire)) = f.next_field()? {
        match (field, wire) {
            (1, Wire::Varint(id)) => address.id = Some(id as i64),
            (2, Wire::Bytes(b)) => address.external_id = Some(text(b, &f)?),
            (3, Wire::Bytes(b)) => bodies.push((false, b)),
            (4, Wire::Bytes(b)) => bodies.push((true, b)),
            (9, Wire::Bytes(b)) => next_cursor = Some(text(b, &f)?).filter(|c| !c.is_empty()),
            (11, Wire::Bytes(b)) => {
                let mut i = Fields::new(b, "InstanceId");
                while let Some((field, wire)) = i.next_field()? {
                    match (field, wire) {
                        (1, Wire::Bytes(s)) => address.instance_space = Some(text(s, &i)?),
                        (2, Wire::Bytes(x)) => address.instance_external_id = Some(text(x, &i)?),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let series = Arc::new(address);
    let mut points = Vec::new();
    for (is_string, body) in bodies {
        decode_points(body, is_string, &series, &mut points)?;
    }
    Ok(SeriesPoints { series, points, next_cursor })
}

fn decode_points(body: &[u8], is_string: bool, series: &Arc<SeriesAddress>, out: &mut Vec<Point>) -> Decoded<()> {
    let mut list = Fields::new(body, if is_string { "StringDatapoints" } else { "NumericDatapoints" });
    // A point is at least 2 bytes: reserve for the page without trusting the length too far.
    out.reserve(body.len() / 12);
    while let Some((field, wire)) = list.next_field()? {
        if let (1, Wire::Bytes(p)) = (field, wire) {
            out.push(decode_point(p, is_string, series)?);
        }
    }
    Ok(())
}

fn decode_point(body: &[u8], is_string: bool, series: &Arc<SeriesAddress>) -> Decoded<Point> {
    let mut f = Fields::new(body, if is_string { "StringDatapoint" } else { "NumericDatapoint" });
    let mut timestamp = 0i64;
    let mut value = if is_string { PointValue::Text(String::new()) } else { PointValue::Double(0.0) };
    let mut null_value = false;
    let mut status = None;
    while let Some((field, wire)) = f.next_field()? {
        match (field, wire) {
            (1, Wire::Varint(t)) => timestamp = t as i64,
            (2, Wire::Fixed64(bits)) if !is_string => value = PointValue::Double(f64::from_bits(bits)),
            (2, Wire::Bytes(s)) if is_string => value = PointValue::Text(text(s, &f)?),
            (3, Wire::Bytes(s)) => status = Some(decode_status(s)?),
            (4, Wire::Varint(n)) => null_value = n != 0,
            (1..=4, _) => return Err(f.fail(&format!("field {field} has the wrong wire type"))),
            _ => {}
        }
    }
    if null_value {
        value = PointValue::Missing;
    }
    Ok(Point { series: series.clone(), timestamp, value, status })
}

fn decode_status(body: &[u8]) -> Decoded<PointStatus> {
    let mut f = Fields::new(body, "Status");
    let mut status = PointStatus { code: 0, symbol: String::new() };
    while let Some((field, wire)) = f.next_field()? {
        match (field, wire) {
            (1, Wire::Varint(c)) => status.code = c as i64,
            (2, Wire::Bytes(s)) => status.symbol = text(s, &f)?,
            _ => {}
        }
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdf_emulator::resources::protobuf::Writer;

    /// A `DataPointListResponse` of one item written by `item`.
    fn response(item: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        w.message(1, item);
        w.buf
    }

    #[test]
    fn numeric_points_with_statuses_nan_missing_and_defaults() {
        let body = response(|m| {
            m.int64(1, 42);
            m.string(2, "s");
            m.string(9, "next");
            m.message(3, |dps| {
                dps.message(1, |p| {
                    p.int64(1, -1_000);
                    p.double(2, 1.5);
                });
                // proto3 leaves out value 0 and timestamp 0.
                dps.message(1, |_| {});
                dps.message(1, |p| {
                    p.int64(1, 2);
                    p.double(2, f64::NAN);
                    p.message(3, |st| {
                        st.int64(1, 2_147_483_648);
                        st.string(2, "Bad");
                    });
                });
                dps.message(1, |p| {
                    p.int64(1, 3);
                    p.boolean(4, true);
                    p.message(3, |st| st.int64(1, 1_073_741_824));
                });
            });
        });
        let series = decode_datapoint_list(&body).unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].next_cursor.as_deref(), Some("next"));
        let p = &series[0].points;
        assert_eq!(p.len(), 4);
        assert_eq!(*p[0].series, SeriesAddress { id: Some(42), external_id: Some("s".into()), ..Default::default() });
        assert_eq!((p[0].timestamp, &p[0].value, &p[0].status), (-1_000, &PointValue::Double(1.5), &None));
        assert_eq!((p[1].timestamp, &p[1].value), (0, &PointValue::Double(0.0)));
        assert!(matches!(p[2].value, PointValue::Double(x) if x.is_nan()));
        assert_eq!(p[2].status, Some(PointStatus { code: 2_147_483_648, symbol: "Bad".into() }));
        assert_eq!(p[3].value, PointValue::Missing);
        assert_eq!(p[3].status, Some(PointStatus { code: 1_073_741_824, symbol: String::new() }));
        assert!(std::sync::Arc::ptr_eq(&p[0].series, &p[3].series), "one address per series");
    }

    #[test]
    fn string_points_and_instance_ids() {
        let body = response(|m| {
            m.message(11, |i| {
                i.string(1, "space");
                i.string(2, "node");
            });
            m.boolean(6, true);
            m.message(4, |dps| {
                dps.message(1, |p| {
                    p.int64(1, 5);
                    p.string(2, "on");
                });
                dps.message(1, |p| p.int64(1, 6));
                dps.message(1, |p| {
                    p.int64(1, 7);
                    p.boolean(4, true);
                });
            });
        });
        let series = decode_datapoint_list(&body).unwrap();
        let p = &series[0].points;
        assert_eq!(series[0].next_cursor, None);
        assert_eq!(p[0].series.instance_space.as_deref(), Some("space"));
        assert_eq!(p[0].series.instance_external_id.as_deref(), Some("node"));
        assert_eq!(p[0].series.id, None);
        let values: Vec<_> = p.iter().map(|p| (p.timestamp, p.value.clone())).collect();
        assert_eq!(
            values,
            vec![(5, PointValue::Text("on".into())), (6, PointValue::Text(String::new())), (7, PointValue::Missing)]
        );
    }

    #[test]
    fn empty_answers_have_no_series_or_no_points() {
        assert!(decode_datapoint_list(&[]).unwrap().is_empty());
        let series = decode_datapoint_list(&response(|m| m.int64(1, 3))).unwrap();
        assert_eq!(series.len(), 1);
        assert!(series[0].points.is_empty());
    }

    #[test]
    fn truncated_and_garbage_bodies_are_malformed_with_where() {
        let body = response(|m| {
            m.int64(1, 42);
            m.message(3, |dps| {
                dps.message(1, |p| {
                    p.int64(1, 1);
                    p.double(2, 1.5);
                })
            });
        });
        for cut in 1..body.len() {
            let e = decode_datapoint_list(&body[..cut]).expect_err("a cut body");
            assert!(e.0.contains(" at byte "), "{cut}: {}", e.0);
        }
        let e = decode_datapoint_list(b"<html>Bad gateway</html>").unwrap_err();
        assert!(e.0.starts_with("DataPointListResponse at byte"), "{}", e.0);
        // A value of the wrong wire type in a point.
        let e = decode_datapoint_list(&response(|m| m.message(3, |d| d.message(1, |p| p.string(2, "x"))))).unwrap_err();
        assert_eq!(e.0, "NumericDatapoint at byte 3 of 3: field 2 has the wrong wire type");
        let e = decode_datapoint_list(&response(|m| m.bytes(2, &[0xff, 0xfe]))).unwrap_err();
        assert!(e.0.contains("not UTF-8"), "{}", e.0);
    }
}
