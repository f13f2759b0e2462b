//! PLY header parsing through `ply-rs-bw`, plus the size bookkeeping that lets the readers
//! check every declared count against the bytes actually present before allocating.

use crate::cloud::ScalarKind;
use crate::error::{FormatError, Result};
use ply_rs_bw::parser::{Parser, Reader};
use ply_rs_bw::ply::{DefaultElement, Encoding, Header, PropertyType, ScalarType};

/// Headers longer than this are rejected rather than scanned forever.
pub const MAX_HEADER_BYTES: usize = 1 << 20;

/// A parsed header and where the body starts.
pub struct PlyHeader {
    pub header: Header,
    pub body_offset: usize,
}

pub fn scalar_kind(t: &ScalarType) -> ScalarKind {
    match t {
        ScalarType::Char => ScalarKind::Char,
        ScalarType::UChar => ScalarKind::UChar,
        ScalarType::Short => ScalarKind::Short,
        ScalarType::UShort => ScalarKind::UShort,
        ScalarType::Int => ScalarKind::Int,
        ScalarType::UInt => ScalarKind::UInt,
        ScalarType::Float => ScalarKind::Float,
        ScalarType::Double => ScalarKind::Double,
    }
}

pub fn scalar_type(k: ScalarKind) -> ScalarType {
    match k {
        ScalarKind::Char => ScalarType::Char,
        ScalarKind::UChar => ScalarType::UChar,
        ScalarKind::Short => ScalarType::Short,
        ScalarKind::UShort => ScalarType::UShort,
        ScalarKind::Int => ScalarType::Int,
        ScalarKind::UInt => ScalarType::UInt,
        ScalarKind::Float => ScalarType::Float,
        ScalarKind::Double => ScalarType::Double,
    }
}

/// Finds the end of the header (the byte after `end_header\n`) without trusting anything.
fn header_end(bytes: &[u8]) -> Result<usize> {
    let limit = bytes.len().min(MAX_HEADER_BYTES);
    let needle = b"end_header";
    let mut line_start = 0;
    for i in 0..limit {
        if bytes[i] == b'\n' {
            let line = bytes[line_start..i].strip_suffix(b"\r").unwrap_or(&bytes[line_start..i]);
            if line.trim_ascii_end() == needle {
                return Ok(i + 1);
            }
            line_start = i + 1;
        }
    }
    if limit == MAX_HEADER_BYTES {
        Err(FormatError::HeaderTooLong(MAX_HEADER_BYTES))
    } else {
        Err(FormatError::BadHeader("no end_header line (file truncated inside the header?)".into()))
    }
}

pub fn parse_header(bytes: &[u8]) -> Result<PlyHeader> {
    if !bytes.starts_with(b"ply") || !matches!(bytes.get(3), Some(b'\n' | b'\r')) {
        return Err(FormatError::NotPly);
    }
    let body_offset = header_end(bytes)?;
    let text = std::str::from_utf8(&bytes[..body_offset])
        .map_err(|_| FormatError::BadHeader("header is not valid UTF-8 text".into()))?;
    reject_duplicates(text)?;
    let parser = Parser::<DefaultElement>::new();
    let mut reader = Reader::new(std::io::Cursor::new(text.as_bytes()));
    let header = parser.read_header(&mut reader).map_err(|e| FormatError::BadHeader(first_line(&e.to_string())))?;
    Ok(PlyHeader { header, body_offset })
}

/// ply-rs keeps elements and properties in maps, so a second `property float x` would silently
/// replace the first and every row after it would be read at the wrong offset.
fn reject_duplicates(text: &str) -> Result<()> {
    let mut elements = std::collections::HashSet::new();
    let mut properties = std::collections::HashSet::new();
    let mut current: Option<&str> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        match words.as_slice() {
            ["element", name, ..] => {
                if !elements.insert(*name) {
                    return Err(FormatError::Duplicate { what: "element", name: name.to_string(), element: None });
                }
                properties.clear();
                current = Some(name);
            }
            ["property", .., name] if words.len() >= 3 && !properties.insert(*name) => {
                return Err(FormatError::Duplicate {
                    what: "property",
                    name: name.to_string(),
                    element: current.map(str::to_string),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The error for bytes left over after the last element: no writer we know pads its files, and
/// a count lower than the rows present means the header and body disagree.
pub fn trailing_data(extra: usize, last_element: Option<(&str, usize, Option<usize>)>) -> FormatError {
    let detail = match last_element {
        Some((name, count, Some(row))) if row > 0 && extra.is_multiple_of(row) => {
            format!("room for {} more `{name}` rows than the {count} declared", extra / row)
        }
        Some((name, count, _)) => format!("after {count} `{name}` rows"),
        None => "the header declares no rows".into(),
    };
    FormatError::TrailingData { bytes: extra as u64, detail }
}

fn first_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// Bytes per row of an element whose properties are all scalars; `None` when it has lists.
pub fn fixed_row_size(props: &[&PropertyType]) -> Option<usize> {
    props
        .iter()
        .map(|p| match p {
            PropertyType::Scalar(s) => Some(scalar_kind(s).size()),
            PropertyType::List(..) => None,
        })
        .sum()
}

/// Reads one scalar of `kind` at the start of `b` as f64 (exact for every PLY type).
#[inline(always)]
pub fn read_scalar(kind: ScalarKind, b: &[u8], big_endian: bool) -> f64 {
    macro_rules! rd {
        ($t:ty, $n:expr) => {{
            let a: [u8; $n] = b[..$n].try_into().unwrap();
            (if big_endian { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }) as f64
        }};
    }
    match kind {
        ScalarKind::Char => b[0] as i8 as f64,
        ScalarKind::UChar => b[0] as f64,
        ScalarKind::Short => rd!(i16, 2),
        ScalarKind::UShort => rd!(u16, 2),
        ScalarKind::Int => rd!(i32, 4),
        ScalarKind::UInt => rd!(u32, 4),
        ScalarKind::Float => rd!(f32, 4),
        ScalarKind::Double => rd!(f64, 8),
    }
}

/// Skips the binary rows of an element (lists allowed), returning the bytes consumed.
/// Every count is checked against what remains, so a hostile header cannot make this loop long.
pub fn skip_binary_element(
    body: &[u8],
    name: &str,
    count: usize,
    props: &[&PropertyType],
    big_endian: bool,
) -> Result<usize> {
    if let Some(row) = fixed_row_size(props) {
        let need = (count as u128) * row as u128;
        if need > body.len() as u128 {
            return Err(FormatError::Truncated {
                expected: need.min(u64::MAX as u128) as u64,
                actual: body.len() as u64,
            });
        }
        return Ok(need as usize);
    }
    if count > body.len() {
        return Err(FormatError::AbsurdCount {
            element: name.into(),
            count: count as u64,
            available: body.len() as u64,
        });
    }
    let mut off = 0usize;
    let truncated = |off: usize| FormatError::Truncated { expected: off as u64 + 1, actual: body.len() as u64 };
    for _ in 0..count {
        for p in props {
            match p {
                PropertyType::Scalar(s) => off += scalar_kind(s).size(),
                PropertyType::List(len_t, item_t) => {
                    let lk = scalar_kind(len_t);
                    if off + lk.size() > body.len() {
                        return Err(truncated(off));
                    }
                    let n = read_scalar(lk, &body[off..], big_endian);
                    if !(0.0..=body.len() as f64).contains(&n) {
                        return Err(FormatError::Invalid {
                            format: "PLY",
                            reason: format!("list length {n} in element `{name}`"),
                        });
                    }
                    off += lk.size() + n as usize * scalar_kind(item_t).size();
                }
            }
            if off > body.len() {
                return Err(truncated(off));
            }
        }
    }
    Ok(off)
}

pub fn is_binary(h: &Header) -> Option<bool> {
    match h.encoding {
        Encoding::Ascii => None,
        Encoding::BinaryBigEndian => Some(true),
        Encoding::BinaryLittleEndian => Some(false),
    }
}
