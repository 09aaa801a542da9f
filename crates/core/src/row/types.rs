//! Column types, columns, dates and values of OpenMLDB's row codec.
//!
//! [`ColumnType`] covers exactly the `type.DataType`s the legacy row codec can
//! store (bool … timestamp, varchar and string); array and map columns are
//! rejected with a typed error. Fixed-width types occupy a slot of
//! [`ColumnType::fixed_size`] bytes; varchar and string go through the string
//! offset table and are stored as raw bytes (OpenMLDB does not require UTF-8,
//! so [`Value::String`] holds a `Vec<u8>`).
//!
//! Dates are packed into an `i32` as `((year - 1900) << 16) | ((month - 1) << 8) | day`.

use std::fmt;

use sync_proto::common::ColumnDesc;
use sync_proto::types::DataType;

use super::error::{DateError, RowError};

/// A column type the row codec can store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ColumnType {
    /// `kBool`: 1 byte, 0 or 1.
    Bool,
    /// `kSmallInt`: i16 LE.
    SmallInt,
    /// `kInt`: i32 LE.
    Int,
    /// `kBigInt`: i64 LE.
    BigInt,
    /// `kFloat`: f32 LE.
    Float,
    /// `kDouble`: f64 LE.
    Double,
    /// `kDate`: packed i32 LE.
    Date,
    /// `kTimestamp`: i64 LE milliseconds since the epoch.
    Timestamp,
    /// `kVarchar`: bytes through the string offset table.
    Varchar,
    /// `kString`: bytes through the string offset table.
    String,
}

impl ColumnType {
    /// Every supported type, in `type.DataType` order.
    pub const ALL: [ColumnType; 10] = [
        ColumnType::Bool,
        ColumnType::SmallInt,
        ColumnType::Int,
        ColumnType::BigInt,
        ColumnType::Float,
        ColumnType::Double,
        ColumnType::Date,
        ColumnType::Timestamp,
        ColumnType::Varchar,
        ColumnType::String,
    ];

    /// Maps a raw `type.DataType` number to a column type; array, map and
    /// unknown numbers are [`RowError::UnsupportedType`].
    pub fn from_data_type(data_type: i32) -> Result<Self, RowError> {
        let ty = match DataType::try_from(data_type) {
            Ok(DataType::KBool) => ColumnType::Bool,
            Ok(DataType::KSmallInt) => ColumnType::SmallInt,
            Ok(DataType::KInt) => ColumnType::Int,
            Ok(DataType::KBigInt) => ColumnType::BigInt,
            Ok(DataType::KFloat) => ColumnType::Float,
            Ok(DataType::KDouble) => ColumnType::Double,
            Ok(DataType::KDate) => ColumnType::Date,
            Ok(DataType::KTimestamp) => ColumnType::Timestamp,
            Ok(DataType::KVarchar) => ColumnType::Varchar,
            Ok(DataType::KString) => ColumnType::String,
            Ok(DataType::KArray | DataType::KMap) | Err(_) => {
                return Err(RowError::UnsupportedType {
                    data_type,
                    type_name: data_type_name(data_type),
                });
            }
        };
        Ok(ty)
    }

    /// The raw `type.DataType` number.
    pub fn data_type(self) -> i32 {
        let dt = match self {
            ColumnType::Bool => DataType::KBool,
            ColumnType::SmallInt => DataType::KSmallInt,
            ColumnType::Int => DataType::KInt,
            ColumnType::BigInt => DataType::KBigInt,
            ColumnType::Float => DataType::KFloat,
            ColumnType::Double => DataType::KDouble,
            ColumnType::Date => DataType::KDate,
            ColumnType::Timestamp => DataType::KTimestamp,
            ColumnType::Varchar => DataType::KVarchar,
            ColumnType::String => DataType::KString,
        };
        dt as i32
    }

    /// Parses an OpenMLDB SQL type name, case-insensitively, including the
    /// aliases OpenMLDB's parser accepts (`int16`, `i32`, `integer`, `int64`,
    /// `float32`, `float64`, …) and `boolean`.
    pub fn from_sql_name(name: &str) -> Option<Self> {
        let lower = name.trim().to_ascii_lowercase();
        let ty = match lower.as_str() {
            "bool" | "boolean" | "in1" => ColumnType::Bool,
            "smallint" | "int16" | "i16" => ColumnType::SmallInt,
            "int" | "int32" | "i32" | "integer" => ColumnType::Int,
            "bigint" | "int64" | "i64" => ColumnType::BigInt,
            "float" | "float32" => ColumnType::Float,
            "double" | "float64" => ColumnType::Double,
            "date" => ColumnType::Date,
            "timestamp" => ColumnType::Timestamp,
            "varchar" => ColumnType::Varchar,
            "string" => ColumnType::String,
            _ => return None,
        };
        Some(ty)
    }

    /// The canonical OpenMLDB SQL name.
    pub fn sql_name(self) -> &'static str {
        match self {
            ColumnType::Bool => "bool",
            ColumnType::SmallInt => "smallint",
            ColumnType::Int => "int",
            ColumnType::BigInt => "bigint",
            ColumnType::Float => "float",
            ColumnType::Double => "double",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Varchar => "varchar",
            ColumnType::String => "string",
        }
    }

    /// Bytes of the fixed-width slot, or `None` for varchar/string.
    pub fn fixed_size(self) -> Option<usize> {
        match self {
            ColumnType::Bool => Some(1),
            ColumnType::SmallInt => Some(2),
            ColumnType::Int | ColumnType::Float | ColumnType::Date => Some(4),
            ColumnType::BigInt | ColumnType::Double | ColumnType::Timestamp => Some(8),
            ColumnType::Varchar | ColumnType::String => None,
        }
    }

    /// Whether the column goes through the string offset table.
    pub fn is_string(self) -> bool {
        matches!(self, ColumnType::Varchar | ColumnType::String)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql_name())
    }
}

/// The name of a raw `type.DataType` number as spelled in `type.proto`.
pub(crate) fn data_type_name(data_type: i32) -> &'static str {
    DataType::try_from(data_type).map_or("unknown", |dt| dt.as_str_name())
}

/// One column of a schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Column type.
    pub ty: ColumnType,
}

impl Column {
    /// A column named `name` of type `ty`.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        Column {
            name: name.into(),
            ty,
        }
    }

    /// Converts a `common.ColumnDesc`. A missing `data_type` is an error (it
    /// is always set by OpenMLDB), as is an array/map/unknown type.
    pub fn from_desc(desc: &ColumnDesc) -> Result<Column, RowError> {
        let data_type = desc.data_type.ok_or_else(|| RowError::MissingDataType {
            name: desc.name.clone(),
        })?;
        let ty =
            ColumnType::from_data_type(data_type).map_err(|_| RowError::UnsupportedColumn {
                name: desc.name.clone(),
                data_type,
                type_name: data_type_name(data_type),
            })?;
        Ok(Column::new(desc.name.clone(), ty))
    }

    /// Converts a list of `common.ColumnDesc`, stopping at the first bad one.
    pub fn from_descs(descs: &[ColumnDesc]) -> Result<Vec<Column>, RowError> {
        descs.iter().map(Column::from_desc).collect()
    }
}

/// A calendar date as OpenMLDB stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    /// Year, 1900..=9999.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31 (not checked against the month's length, as in OpenMLDB).
    pub day: u8,
}

impl Date {
    /// Smallest year OpenMLDB accepts.
    pub const MIN_YEAR: i32 = 1900;
    /// Largest year OpenMLDB accepts.
    pub const MAX_YEAR: i32 = 9999;

    /// A validated date.
    pub fn new(year: i32, month: u8, day: u8) -> Result<Self, DateError> {
        let date = Date { year, month, day };
        date.validate()?;
        Ok(date)
    }

    /// Checks OpenMLDB's ranges: year 1900–9999, month 1–12, day 1–31.
    pub fn validate(&self) -> Result<(), DateError> {
        check_date(self.year, i32::from(self.month), i32::from(self.day))
    }

    /// Packs the date into OpenMLDB's `i32` form.
    pub fn to_packed(&self) -> Result<i32, DateError> {
        self.validate()?;
        Ok(((self.year - 1900) << 16) | ((i32::from(self.month) - 1) << 8) | i32::from(self.day))
    }

    /// Unpacks OpenMLDB's `i32` form; anything outside the valid ranges (so
    /// anything that would not pack back to the same number) is an error.
    pub fn from_packed(packed: i32) -> Result<Self, DateError> {
        let day = packed & 0xFF;
        let month = ((packed >> 8) & 0xFF) + 1;
        let year = (packed >> 16) + 1900;
        check_date(year, month, day)?;
        // In range, so these conversions are exact.
        Ok(Date {
            year,
            month: u8::try_from(month).unwrap_or(0),
            day: u8::try_from(day).unwrap_or(0),
        })
    }
}

fn check_date(year: i32, month: i32, day: i32) -> Result<(), DateError> {
    if (Date::MIN_YEAR..=Date::MAX_YEAR).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
    {
        Ok(())
    } else {
        Err(DateError { year, month, day })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// An owned column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL (any column type).
    Null,
    /// bool
    Bool(bool),
    /// smallint
    SmallInt(i16),
    /// int
    Int(i32),
    /// bigint
    BigInt(i64),
    /// float
    Float(f32),
    /// double
    Double(f64),
    /// date
    Date(Date),
    /// timestamp, milliseconds since the epoch
    Timestamp(i64),
    /// varchar or string, raw bytes (not necessarily UTF-8)
    String(Vec<u8>),
}

/// A column value borrowing string bytes from the row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// SQL NULL.
    Null,
    /// bool
    Bool(bool),
    /// smallint
    SmallInt(i16),
    /// int
    Int(i32),
    /// bigint
    BigInt(i64),
    /// float
    Float(f32),
    /// double
    Double(f64),
    /// date
    Date(Date),
    /// timestamp, milliseconds since the epoch
    Timestamp(i64),
    /// varchar or string bytes inside the row
    String(&'a [u8]),
}

impl Value {
    /// Borrows the value.
    pub fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Bool(v) => ValueRef::Bool(*v),
            Value::SmallInt(v) => ValueRef::SmallInt(*v),
            Value::Int(v) => ValueRef::Int(*v),
            Value::BigInt(v) => ValueRef::BigInt(*v),
            Value::Float(v) => ValueRef::Float(*v),
            Value::Double(v) => ValueRef::Double(*v),
            Value::Date(v) => ValueRef::Date(*v),
            Value::Timestamp(v) => ValueRef::Timestamp(*v),
            Value::String(v) => ValueRef::String(v),
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The kind of value, for messages (`null`, `bool`, `int`, …).
    pub fn kind(&self) -> &'static str {
        self.as_value_ref().kind()
    }

    /// Equality that compares floats by their bits, so `NaN` equals itself
    /// and `0.0` differs from `-0.0`: what a lossless codec must preserve.
    pub fn bitwise_eq(&self, other: &Value) -> bool {
        self.as_value_ref().bitwise_eq(&other.as_value_ref())
    }

    /// A string value from anything byte-like.
    pub fn string(bytes: impl Into<Vec<u8>>) -> Value {
        Value::String(bytes.into())
    }
}

impl<'a> ValueRef<'a> {
    /// Copies the value out of the row.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(v) => Value::Bool(v),
            ValueRef::SmallInt(v) => Value::SmallInt(v),
            ValueRef::Int(v) => Value::Int(v),
            ValueRef::BigInt(v) => Value::BigInt(v),
            ValueRef::Float(v) => Value::Float(v),
            ValueRef::Double(v) => Value::Double(v),
            ValueRef::Date(v) => Value::Date(v),
            ValueRef::Timestamp(v) => Value::Timestamp(v),
            ValueRef::String(v) => Value::String(v.to_vec()),
        }
    }

    /// Whether this is [`ValueRef::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, ValueRef::Null)
    }

    /// The kind of value, for messages (`null`, `bool`, `int`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            ValueRef::Null => "null",
            ValueRef::Bool(_) => "bool",
            ValueRef::SmallInt(_) => "smallint",
            ValueRef::Int(_) => "int",
            ValueRef::BigInt(_) => "bigint",
            ValueRef::Float(_) => "float",
            ValueRef::Double(_) => "double",
            ValueRef::Date(_) => "date",
            ValueRef::Timestamp(_) => "timestamp",
            ValueRef::String(_) => "string",
        }
    }

    /// Whether a value of this kind can be stored in a column of type `ty`
    /// (NULL fits every column; string values fit varchar and string).
    pub fn fits(&self, ty: ColumnType) -> bool {
        matches!(
            (self, ty),
            (ValueRef::Null, _)
                | (ValueRef::Bool(_), ColumnType::Bool)
                | (ValueRef::SmallInt(_), ColumnType::SmallInt)
                | (ValueRef::Int(_), ColumnType::Int)
                | (ValueRef::BigInt(_), ColumnType::BigInt)
                | (ValueRef::Float(_), ColumnType::Float)
                | (ValueRef::Double(_), ColumnType::Double)
                | (ValueRef::Date(_), ColumnType::Date)
                | (ValueRef::Timestamp(_), ColumnType::Timestamp)
                | (
                    ValueRef::String(_),
                    ColumnType::Varchar | ColumnType::String
                )
        )
    }

    /// Equality comparing floats by their bits (see [`Value::bitwise_eq`]).
    pub fn bitwise_eq(&self, other: &ValueRef<'_>) -> bool {
        match (self, other) {
            (ValueRef::Float(a), ValueRef::Float(b)) => a.to_bits() == b.to_bits(),
            (ValueRef::Double(a), ValueRef::Double(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_type_numbers_round_trip() {
        for ty in ColumnType::ALL {
            assert_eq!(ColumnType::from_data_type(ty.data_type()), Ok(ty));
            assert_eq!(ColumnType::from_sql_name(ty.sql_name()), Some(ty));
        }
        assert_eq!(ColumnType::Varchar.data_type(), 13);
        assert_eq!(ColumnType::String.data_type(), 14);
        for bad in [0, 9, 12, 15, 16, 17, -1] {
            assert!(matches!(
                ColumnType::from_data_type(bad),
                Err(RowError::UnsupportedType { data_type, .. }) if data_type == bad
            ));
        }
    }

    #[test]
    fn sql_aliases() {
        assert_eq!(ColumnType::from_sql_name("BOOLEAN"), Some(ColumnType::Bool));
        assert_eq!(
            ColumnType::from_sql_name(" Int64 "),
            Some(ColumnType::BigInt)
        );
        assert_eq!(
            ColumnType::from_sql_name("int16"),
            Some(ColumnType::SmallInt)
        );
        assert_eq!(ColumnType::from_sql_name("int32"), Some(ColumnType::Int));
        assert_eq!(
            ColumnType::from_sql_name("Varchar"),
            Some(ColumnType::Varchar)
        );
        assert_eq!(ColumnType::from_sql_name("blob"), None);
    }

    #[test]
    fn date_packing() {
        // 2024-03-05: (124 << 16) | (2 << 8) | 5
        let d = Date::new(2024, 3, 5).unwrap();
        assert_eq!(d.to_packed(), Ok((124 << 16) | (2 << 8) | 5));
        assert_eq!(Date::from_packed((124 << 16) | (2 << 8) | 5), Ok(d));
        assert_eq!(d.to_string(), "2024-03-05");
        assert!(Date::new(1899, 12, 31).is_err());
        assert!(Date::new(10000, 1, 1).is_err());
        assert!(Date::new(2000, 13, 1).is_err());
        assert!(Date::new(2000, 0, 1).is_err());
        assert!(Date::new(2000, 1, 0).is_err());
        assert!(Date::new(2000, 1, 32).is_err());
        assert!(Date::from_packed(0).is_err(), "day 0");
        assert!(Date::from_packed(-1).is_err());
        assert_eq!(
            Date::from_packed(0x0000_0001),
            Ok(Date {
                year: 1900,
                month: 1,
                day: 1
            })
        );
        assert!(Date::from_packed(12 << 8 | 1).is_err(), "month 13");
    }

    #[test]
    fn column_from_desc() {
        let desc = ColumnDesc {
            name: "c".into(),
            data_type: Some(DataType::KVarchar as i32),
            ..Default::default()
        };
        assert_eq!(
            Column::from_desc(&desc),
            Ok(Column::new("c", ColumnType::Varchar))
        );
        let arr = ColumnDesc {
            name: "a".into(),
            data_type: Some(DataType::KArray as i32),
            ..Default::default()
        };
        assert!(matches!(
            Column::from_desc(&arr),
            Err(RowError::UnsupportedColumn { ref name, data_type: 15, type_name: "kArray" }) if name == "a"
        ));
        let none = ColumnDesc {
            name: "n".into(),
            ..Default::default()
        };
        assert_eq!(
            Column::from_desc(&none),
            Err(RowError::MissingDataType { name: "n".into() })
        );
    }
}
