//! Pseudonyms that cannot be reversed without a secret.
//!
//! A hospital's patient ids are short and structured (seed 001's are `DIT` + 9 digits), so
//! an unkeyed hash of one can be reversed by hashing all 10^9 candidates, which takes
//! minutes. A pseudonym here is `P-` + the first 10 hex digits of
//! HMAC-SHA256(key, patient id) under a 32-byte secret [`PseudonymKey`]: without the key
//! nothing can be tried, and with one key the same id always gives the same pseudonym, so
//! runs, predictions and notebooks of one project join on them.
//!
//! The key lives in a file outside every output, created with 32 random bytes on first use
//! ([`PseudonymKey::load_or_create`], mode 0600): `$MAMMOLAB_KEY` if set, else
//! `$XDG_CONFIG_HOME/mammolab/pseudonym.key`, else `~/.config/mammolab/pseudonym.key`
//! ([`default_key_file`]). Share that file with the people who must join outputs of one
//! project, and nobody else; a new file means new pseudonyms. The CLI and
//! [`notebook::Setup`](crate::notebook::Setup) [`install`] it for the process; a program
//! that installs none gets a random key for the process (pseudonyms are then stable within
//! the process only).
//!
//! A [`Redactor`] replaces known patient ids inside any text or table with their pseudonyms:
//! the merge's export (`MergeResult::write`) and every notebook table go through one.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hmac::{Hmac, KeyInit, Mac};
use polars::prelude::{Column, DataFrame, DataType};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::hash::hex;

/// HMAC-SHA256 (RFC 2104) of `message` under `key` (RustCrypto's `hmac`; checked against
/// RFC 4231's test vectors in `tests/it/privacy.rs`).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length (a long one is hashed first): this cannot fail.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The secret that keys pseudonyms (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymKey([u8; 32]);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

impl PseudonymKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// 32 random bytes: the operating system's generator (`/dev/urandom`), else the
    /// randomly seeded keys of std's `RandomState`.
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        let os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
        if os.is_err() {
            use std::hash::{BuildHasher, Hasher};
            let state = std::collections::hash_map::RandomState::new();
            for (i, chunk) in b.chunks_mut(8).enumerate() {
                let mut h = state.build_hasher();
                h.write_usize(i);
                chunk.copy_from_slice(&h.finish().to_le_bytes());
            }
        }
        Self(b)
    }

    /// The key in `path` (64 hex digits), or a new one written there (the folder made,
    /// the file readable by its owner only). Two processes creating it at once end with
    /// the same key: the file appears whole by a hard link that fails if it exists.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        if path.exists() {
            return Self::read(path);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let key = Self::generate();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{}.partial", std::process::id()));
        let tmp = PathBuf::from(tmp);
        {
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600);
            }
            let mut f = o.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
            writeln!(f, "{}", hex(&key.0)).map_err(|e| Error::io(&tmp, e))?;
        }
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(key),
            // Another process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::read(path),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let t = text.trim();
        let bad = || {
            Error::data(
                path,
                "a pseudonym key file holds 64 hexadecimal digits (32 bytes); delete it to make a new key (the pseudonyms change)",
            )
        };
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut b = [0u8; 32];
        for (i, out) in b.iter_mut().enumerate() {
            *out = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(b))
    }

    /// `P-` + the first 10 hex digits of HMAC-SHA256(key, `patient_id`).
    pub fn pseudonym(&self, patient_id: &str) -> String {
        format!(
            "P-{}",
            &hex(&hmac_sha256(&self.0, patient_id.as_bytes()))[..10]
        )
    }
}

static KEY: OnceLock<PseudonymKey> = OnceLock::new();
static PROCESS_KEY: OnceLock<PseudonymKey> = OnceLock::new();

/// Key this process's pseudonyms with `key` (do it before making any: pseudonyms made
/// earlier used the per-process random key). Installing the same key again is fine; a
/// different one is an error (pseudonyms would stop joining).
pub fn install(key: PseudonymKey) -> Result<()> {
    let k = KEY.get_or_init(|| key.clone());
    if *k == key {
        Ok(())
    } else {
        Err(Error::Param {
            name: "pseudonym key",
            message: "another key already keys this process's pseudonyms".into(),
        })
    }
}

/// The pseudonym of `patient_id` under the installed key (a random one for the process
/// when none was installed).
pub fn pseudonym(patient_id: &str) -> String {
    KEY.get()
        .unwrap_or_else(|| PROCESS_KEY.get_or_init(PseudonymKey::generate))
        .pseudonym(patient_id)
}

/// Where the key file is, from the values of `MAMMOLAB_KEY`, `XDG_CONFIG_HOME` and `HOME`
/// (the caller reads the environment): the first set of `$MAMMOLAB_KEY`,
/// `$XDG_CONFIG_HOME/mammolab/pseudonym.key`, `$HOME/.config/mammolab/pseudonym.key`.
pub fn default_key_file(
    mammolab_key: Option<OsString>,
    xdg_config_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    set(mammolab_key)
        .or_else(|| set(xdg_config_home).map(|d| d.join("mammolab/pseudonym.key")))
        .or_else(|| set(home).map(|h| h.join(".config/mammolab/pseudonym.key")))
}

/// Install the key file `path` (created on first use) for this process; `None` leaves
/// the per-process random key.
pub fn install_from(path: Option<&Path>) -> Result<()> {
    match path {
        Some(p) => install(PseudonymKey::load_or_create(p)?),
        None => Ok(()),
    }
}

/// Install the key of [`default_key_file`] for the environment's values of `MAMMOLAB_KEY`,
/// `XDG_CONFIG_HOME` and `HOME`, read by the caller: what the CLI and
/// [`notebook::Setup`](crate::notebook::Setup) do.
pub fn install_default(
    mammolab_key: Option<OsString>,
    xdg_config_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<()> {
    install_from(default_key_file(mammolab_key, xdg_config_home, home).as_deref())
}

/// Replaces patient identifiers in any text with their pseudonyms ([`pseudonym`]).
///
/// An id is found wherever it stands between characters that are not letters or digits (or
/// the text's ends), in any case: `FILE0004-20141225-112603-DIT439120108` shows as
/// `FILE0004-20141225-112603-P-4f0c...` (the date and time parts, what keys usually fail
/// on, stay readable), ` dit439120108` is caught too, and so is CBIS-DDSM's `P_00001`
/// inside `Mass-Training_P_00001_LEFT_CC`; `XDIT439120108` is another token and stays.
///
/// ```
/// use mammolab::privacy::{pseudonym, Redactor};
///
/// let r = Redactor::new(["P_00001"]);
/// assert_eq!(
///     r.text("Mass-Training_p_00001_LEFT_CC"),
///     format!("Mass-Training_{}_LEFT_CC", pseudonym("P_00001"))
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Upper-cased id -> pseudonym.
    ids: HashMap<String, String>,
    /// The byte lengths of the ids, longest first: the candidates tried at each position.
    lengths: BTreeSet<std::cmp::Reverse<usize>>,
}

impl Redactor {
    /// A redactor for the ids `ids` (any case, any surrounding space).
    pub fn new<S: AsRef<str>>(ids: impl IntoIterator<Item = S>) -> Self {
        let mut r = Self::default();
        for id in ids {
            let id = id.as_ref().trim().to_uppercase();
            if !id.is_empty() {
                r.lengths.insert(std::cmp::Reverse(id.len()));
                let p = pseudonym(&id);
                r.ids.insert(id, p);
            }
        }
        r
    }

    /// How many distinct ids it knows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when it knows no id.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// `text` with every known id replaced by its pseudonym.
    pub fn text(&self, text: &str) -> String {
        let alnum_at = |i: usize| text[i..].chars().next().is_some_and(char::is_alphanumeric);
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        let mut after_alnum = false;
        while let Some(c) = text[i..].chars().next() {
            if !after_alnum {
                let found = self.lengths.iter().find_map(|&std::cmp::Reverse(n)| {
                    let end = i + n;
                    let whole = text.is_char_boundary(end) && (end == text.len() || !alnum_at(end));
                    whole
                        .then(|| self.ids.get(&text[i..end].to_uppercase()))
                        .flatten()
                        .map(|p| (end, p))
                });
                if let Some((end, p)) = found {
                    out.push_str(p);
                    after_alnum = true;
                    i = end;
                    continue;
                }
            }
            out.push(c);
            after_alnum = c.is_alphanumeric();
            i += c.len_utf8();
        }
        out
    }

    /// `df` with every text column redacted.
    pub fn frame(&self, df: &DataFrame) -> Result<DataFrame> {
        let cols = df
            .columns()
            .iter()
            .map(|c| -> Result<Column> {
                if c.dtype() != &DataType::String {
                    return Ok(c.clone());
                }
                let s = c
                    .str()
                    .map_err(|e| Error::table(format!("column {}", c.name()), e))?;
                let v: Vec<Option<String>> = s.iter().map(|v| v.map(|t| self.text(t))).collect();
                Ok(Column::new(c.name().clone(), v))
            })
            .collect::<Result<Vec<_>>>()?;
        DataFrame::new_infer_height(cols).map_err(|e| Error::table("redacted frame", e))
    }
}
