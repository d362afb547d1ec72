//! NumPy `.npy` arrays (seed 004's Kaggle "DDSM Mammography" download ships its validation
//! and test patches as `cv10_data/cv10_data.npy`, shape `(n, 299, 299, 1)` `uint8`, beside
//! `cv10_labels.npy`, shape `(n,)` integers).
//!
//! The header (a Python dict literal) is parsed by the `npyz` crate; the values are read
//! here, in C order only. Nothing is allocated because a header says so: the shape times the
//! item size must equal the bytes that follow the header in the file, or the file is refused
//! in one line naming it (a download cut short is the usual cause).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use npyz::{DType, NpyFile, Order, TypeChar};

use crate::error::{Error, Result};

/// An array's header, checked against its file's size: what [`open`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyArray {
    /// The file.
    pub path: PathBuf,
    /// The shape (`[]` for a scalar).
    pub shape: Vec<u64>,
    /// NumPy's type string, e.g. `|u1`, `<i8`.
    pub dtype: String,
    kind: Kind,
    item: usize,
    little: bool,
    data_offset: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Uint,
    Other,
}

/// Read and check an `.npy` file's header (see the module docs).
pub fn open(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    let bad = |message: String| Error::Data {
        file: path.to_path_buf(),
        message,
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut reader = BufReader::new(file);
    let npy = NpyFile::new(&mut reader).map_err(|e| bad(format!("not a NumPy .npy file: {e}")))?;
    let shape = npy.shape().to_vec();
    let order = npy.order();
    let dtype = npy.dtype();
    drop(npy);
    let data_offset = reader.stream_position().map_err(|e| Error::io(path, e))?;
    let DType::Plain(ts) = &dtype else {
        return Err(bad(format!(
            "holds a structured or array dtype ({}); only plain numbers are read",
            dtype.descr()
        )));
    };
    if ts.uses_pickled_array() {
        return Err(bad(
            "holds Python objects (pickled); only plain numbers are read".into(),
        ));
    }
    if order != Order::C && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(bad(
            "is stored in Fortran order; only C order is read".into()
        ));
    }
    let kind = match ts.type_char() {
        TypeChar::Int => Kind::Int,
        TypeChar::Uint => Kind::Uint,
        _ => Kind::Other,
    };
    let item = ts.num_bytes().unwrap_or(0);
    let expected = shape
        .iter()
        .try_fold(item as u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("its shape {shape:?} overflows")))?;
    let present = size - data_offset;
    if expected != present {
        return Err(bad(format!(
            "its header says shape {shape:?} of {} ({expected} bytes) but {present} bytes follow it: the file is cut short or not what it says",
            dtype.descr()
        )));
    }
    Ok(NpyArray {
        path: path.to_path_buf(),
        shape,
        dtype: ts.to_string(),
        kind,
        item,
        little: ts.endianness() != npyz::Endianness::Big,
        data_offset,
    })
}

impl NpyArray {
    /// The first dimension: how many items (images, labels) the array holds.
    pub fn len(&self) -> usize {
        self.shape.first().copied().unwrap_or(1) as usize
    }

    /// Whether the array holds no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per item (the product of the shape after the first dimension).
    pub fn item_len(&self) -> usize {
        self.shape.iter().skip(1).product::<u64>() as usize
    }

    fn err(&self, message: String) -> Error {
        Error::Data {
            file: self.path.clone(),
            message,
        }
    }

    /// Every value as an integer (a label array: any signed or unsigned integer type).
    pub fn integers(&self) -> Result<Vec<i64>> {
        if self.kind == Kind::Other || self.item > 8 {
            return Err(self.err(format!(
                "holds {}, not integers (labels are integers)",
                self.dtype
            )));
        }
        let bytes = self.all_bytes()?;
        bytes
            .chunks_exact(self.item)
            .map(|c| {
                let mut b = [0u8; 8];
                if self.little {
                    b[..c.len()].copy_from_slice(c);
                } else {
                    for (i, v) in c.iter().rev().enumerate() {
                        b[i] = *v;
                    }
                }
                // Sign-extend a signed value narrower than 8 bytes.
                if self.kind == Kind::Int && c.len() < 8 && b[c.len() - 1] & 0x80 != 0 {
                    b[c.len()..].fill(0xff);
                }
                let v = i64::from_le_bytes(b);
                if self.kind == Kind::Uint && c.len() == 8 && v < 0 {
                    Err(self.err(format!("value {} is beyond i64", v as u64)))
                } else {
                    Ok(v)
                }
            })
            .collect()
    }

    /// The `uint8` items one at a time (images: `item_len` bytes each), in order.
    pub fn u8_items(&self) -> Result<U8Items> {
        if !(self.kind == Kind::Uint && self.item == 1) {
            return Err(self.err(format!("holds {}, not 8-bit pixels (|u1)", self.dtype)));
        }
        let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        file.seek(SeekFrom::Start(self.data_offset))
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(U8Items {
            path: self.path.clone(),
            reader: BufReader::new(file),
            item: self.item_len(),
            left: self.len(),
        })
    }

    /// The data bytes (their count was checked against the file by [`open`]).
    fn all_bytes(&self) -> Result<Vec<u8>> {
        let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        file.seek(SeekFrom::Start(self.data_offset))
            .map_err(|e| Error::io(&self.path, e))?;
        let mut out = vec![0u8; self.len() * self.item_len() * self.item];
        file.read_exact(&mut out)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(out)
    }
}

/// The items of a `uint8` array, in order ([`NpyArray::u8_items`]).
pub struct U8Items {
    path: PathBuf,
    reader: BufReader<File>,
    item: usize,
    left: usize,
}

impl Iterator for U8Items {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let mut buf = vec![0u8; self.item];
        Some(
            self.reader
                .read_exact(&mut buf)
                .map(|_| buf)
                .map_err(|e| Error::io(&self.path, e)),
        )
    }
}

/// Write a C-order `.npy` file of `uint8` values with this shape (the twin's patch arrays).
pub fn write_u8(path: &Path, shape: &[u64], values: &[u8]) -> Result<()> {
    write_with(path, shape, values.iter().copied())
}

/// Write a C-order `.npy` file of `int64` values, one dimension (the twin's label arrays).
pub fn write_i64(path: &Path, values: &[i64]) -> Result<()> {
    write_with(path, &[values.len() as u64], values.iter().copied())
}

fn write_with<T: npyz::AutoSerialize>(
    path: &Path,
    shape: &[u64],
    values: impl IntoIterator<Item = T>,
) -> Result<()> {
    use npyz::WriterBuilder;
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .map_err(|e| Error::io(path, e))?;
    w.extend(values).map_err(|e| Error::io(path, e))?;
    w.finish().map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mammolab-npy-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join(name)
    }

    #[test]
    fn round_trip_and_checks() {
        let p = tmp("a.npy");
        write_u8(&p, &[3, 2, 2, 1], &(0..12).collect::<Vec<u8>>()).unwrap();
        let a = open(&p).unwrap();
        assert_eq!((a.len(), a.item_len(), a.dtype.as_str()), (3, 4, "|u1"));
        let items: Vec<Vec<u8>> = a.u8_items().unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(items[2], vec![8, 9, 10, 11]);
        assert!(a.integers().unwrap().len() == 12);

        let l = tmp("l.npy");
        write_i64(&l, &[0, 4, -1]).unwrap();
        let b = open(&l).unwrap();
        assert_eq!(b.integers().unwrap(), vec![0, 4, -1]);
        assert!(b.u8_items().is_err());

        // Cut short: refused before anything is read.
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
        let e = open(&p).unwrap_err().to_string();
        assert!(e.contains("a.npy") && e.contains("cut short"), "{e}");
        std::fs::write(&p, b"not numpy").unwrap();
        assert!(open(&p).unwrap_err().to_string().contains("not a NumPy"));
    }
}
