//! TensorFlow's TFRecord files (seed 004's Kaggle "DDSM Mammography" download ships its
//! training patches as `training10_0.tfrecords` ... `training10_4.tfrecords`): the records,
//! each checked against its CRC-32C, and the `tf.train.Example` messages they hold.
//!
//! A TFRecord file is a sequence of records, each
//! `length: u64 LE | masked CRC-32C of the 8 length bytes: u32 LE | data | masked CRC-32C of
//! the data: u32 LE`, where the mask is `rotate_right(crc, 15) + 0xa282ead8` (TensorFlow's
//! `tensorflow/core/lib/hash/crc32c.h`). An `Example` is the protobuf
//! `Features { map<string, Feature> feature = 1 }` inside field 1, a `Feature` one of
//! `bytes_list = 1`, `float_list = 2`, `int64_list = 3`, each a repeated field 1 (packed or
//! not). Only what these messages need of protobuf is decoded here.
//!
//! Nothing is allocated because a file says so: a record's length is checked against the
//! bytes left in the file before it is read, and a bad checksum, a truncated record or a
//! malformed message is an error naming the file, the record and its byte offset.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut c = !0u32;
    for &b in bytes {
        c = table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// TensorFlow's masked CRC-32C, as stored in a TFRecord.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    crc32c(bytes).rotate_right(15).wrapping_add(0xa282_ead8)
}

/// The records of a TFRecord file, in order, each checked; see the module docs.
pub struct Records {
    path: PathBuf,
    reader: BufReader<File>,
    offset: u64,
    size: u64,
    index: usize,
    done: bool,
}

/// Open a TFRecord file for reading its records one at a time.
pub fn records(path: impl AsRef<Path>) -> Result<Records> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    Ok(Records {
        path: path.to_path_buf(),
        reader: BufReader::new(file),
        offset: 0,
        size,
        index: 0,
        done: false,
    })
}

impl Records {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::Data {
            file: self.path.clone(),
            message: format!(
                "record {} (byte {}): {}",
                self.index,
                self.offset,
                message.into()
            ),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        let path = self.path.clone();
        self.reader.read_exact(buf).map_err(|e| Error::io(&path, e))
    }

    fn next_record(&mut self) -> Result<Vec<u8>> {
        let left = self.size - self.offset;
        if left < 12 {
            return Err(self.err(format!(
                "{left} bytes left, a record header needs 12: the file is cut short"
            )));
        }
        let mut head = [0u8; 12];
        self.read_exact(&mut head)?;
        let len_bytes: [u8; 8] = head[..8].try_into().expect("8 bytes");
        let stored = u32::from_le_bytes(head[8..].try_into().expect("4 bytes"));
        if masked_crc32c(&len_bytes) != stored {
            return Err(
                self.err("the length's checksum does not match: not a TFRecord file, or damaged")
            );
        }
        let len = u64::from_le_bytes(len_bytes);
        if left < 16 || len > left - 16 {
            return Err(self.err(format!(
                "says it holds {len} bytes, but {} remain: the file is cut short",
                (left - 12).saturating_sub(4)
            )));
        }
        let mut data = vec![0u8; len as usize];
        self.read_exact(&mut data)?;
        let mut tail = [0u8; 4];
        self.read_exact(&mut tail)?;
        if masked_crc32c(&data) != u32::from_le_bytes(tail) {
            return Err(self.err("the data's checksum does not match: the record is damaged"));
        }
        self.offset += 16 + len;
        self.index += 1;
        Ok(data)
    }
}

impl Iterator for Records {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.offset == self.size {
            return None;
        }
        let r = self.next_record();
        self.done = r.is_err();
        Some(r)
    }
}

/// One feature of a `tf.train.Example`.
#[derive(Debug, Clone, PartialEq)]
pub enum Feature {
    /// `bytes_list`: raw bytes (an image's pixels, text).
    Bytes(Vec<Vec<u8>>),
    /// `float_list`.
    Float(Vec<f32>),
    /// `int64_list` (labels).
    Int64(Vec<i64>),
}

/// A `tf.train.Example`: its features by name.
pub type Example = BTreeMap<String, Feature>;

/// Decode a `tf.train.Example` (a record's data); the error says what is malformed.
pub fn parse_example(bytes: &[u8]) -> std::result::Result<Example, String> {
    let mut out = Example::new();
    for (field, value) in Message(bytes).fields()? {
        if let (1, Value::Len(features)) = (field, value) {
            for (f, entry) in Message(features).fields()? {
                if let (1, Value::Len(entry)) = (f, entry) {
                    let (name, feature) = map_entry(entry)?;
                    out.insert(name, feature);
                }
            }
        }
    }
    Ok(out)
}

fn map_entry(entry: &[u8]) -> std::result::Result<(String, Feature), String> {
    let (mut key, mut feature) = (String::new(), None);
    for (f, v) in Message(entry).fields()? {
        match (f, v) {
            (1, Value::Len(k)) => {
                key = String::from_utf8(k.to_vec()).map_err(|_| "a feature name is not UTF-8")?
            }
            (2, Value::Len(v)) => feature = Some(parse_feature(v)?),
            _ => {}
        }
    }
    let feature = feature.unwrap_or(Feature::Bytes(vec![]));
    Ok((key, feature))
}

fn parse_feature(bytes: &[u8]) -> std::result::Result<Feature, String> {
    let mut feature = Feature::Bytes(vec![]);
    for (f, v) in Message(bytes).fields()? {
        let Value::Len(list) = v else { continue };
        let items = Message(list).fields()?;
        feature = match f {
            1 => Feature::Bytes(
                items
                    .into_iter()
                    .filter_map(|(n, v)| match (n, v) {
                        (1, Value::Len(b)) => Some(b.to_vec()),
                        _ => None,
                    })
                    .collect(),
            ),
            2 => {
                let mut values = vec![];
                for (n, v) in items {
                    match (n, v) {
                        (1, Value::Fixed32(x)) => values.push(f32::from_bits(x)),
                        (1, Value::Len(packed)) => {
                            if packed.len() % 4 != 0 {
                                return Err(
                                    "a packed float list is not a multiple of 4 bytes".into()
                                );
                            }
                            values.extend(
                                packed
                                    .chunks_exact(4)
                                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))),
                            );
                        }
                        _ => {}
                    }
                }
                Feature::Float(values)
            }
            3 => {
                let mut values = vec![];
                for (n, v) in items {
                    match (n, v) {
                        (1, Value::Varint(x)) => values.push(x as i64),
                        (1, Value::Len(mut packed)) => {
                            while !packed.is_empty() {
                                let (x, used) = varint(packed)?;
                                values.push(x as i64);
                                packed = &packed[used..];
                            }
                        }
                        _ => {}
                    }
                }
                Feature::Int64(values)
            }
            _ => continue,
        };
    }
    Ok(feature)
}

/// Append one record holding `data` to `w`, framed and checksummed as TensorFlow writes it.
pub fn write_record(w: &mut impl std::io::Write, data: &[u8]) -> std::io::Result<()> {
    let len = (data.len() as u64).to_le_bytes();
    w.write_all(&len)?;
    w.write_all(&masked_crc32c(&len).to_le_bytes())?;
    w.write_all(data)?;
    w.write_all(&masked_crc32c(data).to_le_bytes())
}

/// Encode a `tf.train.Example` as TensorFlow serialises it (features in name order, int64
/// and float lists packed): the inverse of [`parse_example`].
pub fn encode_example(example: &Example) -> Vec<u8> {
    let mut features = vec![];
    for (name, feature) in example {
        let mut list = vec![];
        let field = match feature {
            Feature::Bytes(values) => {
                for v in values {
                    put_len(&mut list, 1, v);
                }
                1
            }
            Feature::Float(values) => {
                let packed: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                put_len(&mut list, 1, &packed);
                2
            }
            Feature::Int64(values) => {
                let mut packed = vec![];
                for &v in values {
                    put_varint(&mut packed, v as u64);
                }
                put_len(&mut list, 1, &packed);
                3
            }
        };
        let mut value = vec![];
        put_len(&mut value, field, &list);
        let mut entry = vec![];
        put_len(&mut entry, 1, name.as_bytes());
        put_len(&mut entry, 2, &value);
        put_len(&mut features, 1, &entry);
    }
    let mut out = vec![];
    put_len(&mut out, 1, &features);
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_len(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A protobuf field's value, by wire type.
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Len(&'a [u8]),
    Fixed32(u32),
}

struct Message<'a>(&'a [u8]);

impl<'a> Message<'a> {
    /// Every `(field number, value)`, in order.
    fn fields(&self) -> std::result::Result<Vec<(u64, Value<'a>)>, String> {
        let mut rest = self.0;
        let mut out = vec![];
        while !rest.is_empty() {
            let (tag, used) = varint(rest)?;
            rest = &rest[used..];
            let value = match tag & 7 {
                0 => {
                    let (v, used) = varint(rest)?;
                    rest = &rest[used..];
                    Value::Varint(v)
                }
                1 => {
                    take(&mut rest, 8)?;
                    Value::Fixed64
                }
                2 => {
                    let (len, used) = varint(rest)?;
                    rest = &rest[used..];
                    let len = usize::try_from(len).map_err(|_| "a length does not fit")?;
                    Value::Len(take(&mut rest, len)?)
                }
                5 => {
                    let b = take(&mut rest, 4)?;
                    Value::Fixed32(u32::from_le_bytes(b.try_into().expect("4 bytes")))
                }
                w => {
                    return Err(format!(
                        "wire type {w} of field {} is not protobuf's",
                        tag >> 3
                    ))
                }
            };
            out.push((tag >> 3, value));
        }
        Ok(out)
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> std::result::Result<&'a [u8], String> {
    if rest.len() < n {
        return Err(format!("a field needs {n} bytes, {} remain", rest.len()));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn varint(bytes: &[u8]) -> std::result::Result<(u64, usize), String> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err("a varint runs past its end".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_rfc_3720_and_the_check_value() {
        // RFC 3720 (iSCSI) appendix B.4 test vectors, and the CRC catalogue's check value.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        let up: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&up), 0x46DD_794E);
        let down: Vec<u8> = (0..32).rev().collect();
        assert_eq!(crc32c(&down), 0x113F_DB5C);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    fn field(number: u64, wire: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![];
        put_varint(&mut out, number << 3 | wire);
        if wire == 2 {
            put_varint(&mut out, payload.len() as u64);
        }
        out.extend_from_slice(payload);
        out
    }

    fn entry(name: &str, feature: Vec<u8>) -> Vec<u8> {
        let mut e = field(1, 2, name.as_bytes());
        e.extend(field(2, 2, &feature));
        field(1, 2, &e)
    }

    /// An Example like DDSM's: `label` and `label_normal` (int64, one packed and one not),
    /// `image` (bytes), and a float list.
    fn example() -> Vec<u8> {
        let mut packed = vec![];
        put_varint(&mut packed, 4);
        let label = field(3, 2, &field(1, 2, &packed));
        let mut unpacked = vec![];
        put_varint(&mut unpacked, 1 << 3);
        put_varint(&mut unpacked, 1);
        let label_normal = field(3, 2, &unpacked);
        let image = field(1, 2, &field(1, 2, &[0, 7, 255, 9]));
        let floats = field(2, 2, &field(1, 2, &[0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]));
        let mut features = entry("label", label);
        features.extend(entry("label_normal", label_normal));
        features.extend(entry("image", image));
        features.extend(entry("weights", floats));
        field(1, 2, &features)
    }

    /// The error of reading the first record of `p`.
    fn first_error(p: &Path) -> String {
        records(p).unwrap().next().unwrap().unwrap_err().to_string()
    }

    fn record(data: &[u8]) -> Vec<u8> {
        let mut out = vec![];
        write_record(&mut out, data).unwrap();
        out
    }

    #[test]
    fn encoded_examples_parse_back() {
        let mut ex = Example::new();
        ex.insert("label".into(), Feature::Int64(vec![3, -1]));
        ex.insert(
            "image".into(),
            Feature::Bytes(vec![vec![0, 255, 7], vec![]]),
        );
        ex.insert("w".into(), Feature::Float(vec![0.5]));
        assert_eq!(parse_example(&encode_example(&ex)).unwrap(), ex);
    }

    #[test]
    fn records_and_examples_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("training10_0.tfrecords");
        let mut file = record(&example());
        file.extend(record(b""));
        std::fs::write(&p, &file).unwrap();
        let all: Vec<Vec<u8>> = records(&p).unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(all.len(), 2);
        let ex = parse_example(&all[0]).unwrap();
        assert_eq!(ex["label"], Feature::Int64(vec![4]));
        assert_eq!(ex["label_normal"], Feature::Int64(vec![1]));
        assert_eq!(ex["image"], Feature::Bytes(vec![vec![0, 7, 255, 9]]));
        assert_eq!(ex["weights"], Feature::Float(vec![1.0, -2.0]));
        assert!(parse_example(&all[1]).unwrap().is_empty());
    }

    #[test]
    fn damage_is_named_and_nothing_is_allocated_on_a_files_word() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.tfrecords");
        let good = record(&example());
        // A flipped data byte in the second record.
        let mut bad = good.clone();
        bad.extend(record(&example()));
        let n = bad.len();
        bad[n - 10] ^= 1;
        std::fs::write(&p, &bad).unwrap();
        let r: Vec<Result<Vec<u8>>> = records(&p).unwrap().collect();
        assert_eq!(r.len(), 2);
        let err = r[1].as_ref().unwrap_err().to_string();
        assert!(
            err.contains(&format!("record 1 (byte {})", good.len())) && err.contains("damaged"),
            "{err}"
        );
        // Cut short inside the data.
        std::fs::write(&p, &good[..good.len() - 6]).unwrap();
        let err = first_error(&p);
        assert!(err.contains("cut short"), "{err}");
        // A length of 2^62 with a valid checksum: refused before any allocation.
        let len = (1u64 << 62).to_le_bytes();
        let mut huge = len.to_vec();
        huge.extend(masked_crc32c(&len).to_le_bytes());
        huge.extend([0u8; 8]);
        std::fs::write(&p, &huge).unwrap();
        let err = first_error(&p);
        assert!(
            err.contains("says it holds 4611686018427387904 bytes"),
            "{err}"
        );
        // Not a TFRecord file at all.
        std::fs::write(&p, b"patient_id,label\nP_1,0\n").unwrap();
        let err = first_error(&p);
        assert!(err.contains("not a TFRecord file"), "{err}");
        // A malformed message.
        assert!(parse_example(&[0x0a, 0x05, 1]).is_err());
    }
}
