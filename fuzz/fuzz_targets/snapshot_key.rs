//! Fuzzes the snapshot key layer (`sync_core::snapshot_key`): stored keys
//! decoded in both layouts, the `KeyTSComparator` order, TTLs from arbitrary
//! `TTLSt`s and their expiry rule, and index layouts built from arbitrary
//! schemas and `column_key` lists, with dimension keys and ts computed from
//! arbitrary row values. Asserts: a value or a typed error, never a panic; a
//! decoded key re-encodes to the same bytes; the comparator is reflexive and
//! antisymmetric; a TTL survives `to_proto`/`from_proto`; every index of a
//! layout lives in an inner index that lists it.
#![no_main]

use std::cmp::Ordering;

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sync_core::proto::common::{ColumnDesc, ColumnKey, TtlSt};
use sync_core::row::{Date, Value};
use sync_core::snapshot_key::{
    IndexLayout, KeyLayout, Ttl, compare, dimension_key, format_key_value, index_ts,
};

/// Names from a small alphabet, so that indexes often name real columns.
fn name(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(u.choose(&["a", "b", "c", "ts", "", "a|b"])?.to_string())
}

fn ttl_st(u: &mut Unstructured<'_>) -> Result<Option<TtlSt>> {
    if u.ratio(1, 4)? {
        return Ok(None);
    }
    Ok(Some(TtlSt {
        ttl_type: u.arbitrary()?,
        abs_ttl: u.arbitrary()?,
        lat_ttl: u.arbitrary()?,
    }))
}

fn value(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=9)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::SmallInt(u.arbitrary()?),
        3 => Value::Int(u.arbitrary()?),
        4 => Value::BigInt(u.arbitrary()?),
        5 => Value::Float(u.arbitrary()?),
        6 => Value::Double(u.arbitrary()?),
        7 => Value::Date(Date {
            year: u.arbitrary()?,
            month: u.arbitrary()?,
            day: u.arbitrary()?,
        }),
        8 => Value::Timestamp(u.arbitrary()?),
        _ => Value::String(u.arbitrary()?),
    })
}

fn keys(u: &mut Unstructured<'_>) -> Result<()> {
    let key: &[u8] = u.arbitrary()?;
    let other: &[u8] = u.arbitrary()?;
    let id: u32 = u.arbitrary()?;
    if let Ok(d) = KeyLayout::Plain.decode(key) {
        assert_eq!(d.ts_col_id, None);
        assert_eq!(KeyLayout::Plain.encode(d.pk, d.ts), key);
        assert_eq!(KeyLayout::Plain.seek_key(&d.row_key()), key);
    }
    if let Ok(d) = KeyLayout::WithTsCol(id).decode(key) {
        let found = d
            .ts_col_id
            .unwrap_or_else(|| panic!("shared key without an id"));
        assert_eq!(KeyLayout::WithTsCol(found).encode(d.pk, d.ts), key);
    }
    assert_eq!(compare(key, key), Ordering::Equal);
    assert_eq!(compare(key, other), compare(other, key).reverse());
    if compare(key, other) == Ordering::Equal {
        assert_eq!(key, other);
    }
    Ok(())
}

fn ttls(u: &mut Unstructured<'_>) -> Result<()> {
    let st = ttl_st(u)?;
    let ttl = Ttl::from_proto(st.as_ref());
    assert_eq!(Ttl::from_proto(Some(&ttl.to_proto())), ttl);
    let checker = ttl.checker(u.arbitrary()?);
    let _ = checker.is_expired(u.arbitrary()?, u.arbitrary()?);
    let unlimited = checker.is_unlimited();
    if unlimited {
        assert!(!checker.is_expired(u.arbitrary()?, u.arbitrary()?));
    }
    Ok(())
}

fn layouts(u: &mut Unstructured<'_>) -> Result<()> {
    let columns = (0..u.int_in_range(0..=5)?)
        .map(|_| {
            Ok(ColumnDesc {
                name: name(u)?,
                data_type: u.arbitrary()?,
                ..ColumnDesc::default()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let column_keys = (0..u.int_in_range(0..=5)?)
        .map(|_| {
            Ok(ColumnKey {
                index_name: if u.ratio(1, 8)? { None } else { Some(name(u)?) },
                col_name: (0..u.int_in_range(0..=3)?)
                    .map(|_| name(u))
                    .collect::<Result<Vec<_>>>()?,
                ts_name: if u.arbitrary()? { Some(name(u)?) } else { None },
                flag: u.arbitrary()?,
                ttl: ttl_st(u)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&ColumnDesc> = columns.iter().collect();
    let Ok(layout) = IndexLayout::new(&refs, &column_keys) else {
        return Ok(());
    };
    let values = (0..u.int_in_range(0..=6)?)
        .map(|_| value(u))
        .collect::<Result<Vec<_>>>()?;
    let put_time: u64 = u.arbitrary()?;
    assert_eq!(layout.indexes().len(), column_keys.len());
    for index in layout.indexes() {
        assert!(layout.inner_of(index).indexes.contains(&index.pos));
        assert_eq!(layout.index(index.pos), Some(index));
        let _ = layout.key_layout(index);
        let _ = index.ts_col_id();
        let _ = dimension_key(index, &values);
        let _ = index_ts(index, &values, put_time);
    }
    assert_eq!(layout.cf_names().len(), layout.inner_indexes().len());
    let _ = layout.row_key(&values, put_time);
    let mut out = Vec::new();
    for v in &values {
        let _ = format_key_value(v, &mut out);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = keys(&mut u);
    let _ = ttls(&mut u);
    let _ = layouts(&mut u);
});
