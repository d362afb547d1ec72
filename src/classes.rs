//! The classes a cohort's images are labelled with, as one value: their names in index order
//! (index `i` is the model's output `i`) and which of them, if any, is the positive class.
//!
//! The manifest names them once ([`Manifest::classes`](crate::manifest::Manifest::classes): its
//! `[classes]` table, or the `positive_class` of its column rules); [`dataset::prepare`]
//! turns them into a [`Classes`] that the trainer, the checkpoint, the run directory and
//! `mammolab predict` carry unchanged. Nothing derives the positive class from an order.
//!
//! - Binary work (seed 001's cancer vs normal, DDSM's malignant vs benign) is two classes with
//!   a positive one: a score is its probability, a label is `1` for it.
//! - k classes (normal / benign / malignant) may name no positive class; what needs one
//!   (a decision threshold, a binary ROC AUC) then says so in a one-line error.
//!
//! [`dataset::prepare`]: crate::dataset::prepare
//!
//! ```
//! use mammolab::Classes;
//! let c = Classes::new(vec!["normal".into(), "cancer".into()], Some("cancer"))?;
//! assert_eq!(c.positive(), Some(1));
//! assert_eq!(c.positive_name(), Some("cancer"));
//! assert!(c.is_binary());
//! let three = Classes::new(vec!["normal".into(), "benign".into(), "malignant".into()], None)?;
//! assert!(three.require_positive("a threshold").is_err());
//! # Ok::<(), mammolab::Error>(())
//! ```
//!
//! In JSON (a checkpoint's `config.json`, `run.json`, `predict --json`) the value is two
//! keys beside the others: `"classes": ["normal", "cancer"], "positive": "cancer"`
//! (`null` when there is none). Files written before `positive` was recorded have only
//! `classes`; they were written when a binary model's positive class was its second, and
//! are read that way (the one place an order decides it, and only for those files).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Class names in index order and the positive class, if any (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Recorded", into = "Recorded")]
pub struct Classes {
    names: Vec<String>,
    positive: Option<usize>,
}

impl Classes {
    /// `names` in index order (at least two, distinct, none empty) with `positive` among
    /// them, or a one-line error saying which rule is broken.
    pub fn new(names: Vec<String>, positive: Option<&str>) -> Result<Self> {
        if names.len() < 2 {
            return Err(Error::input(
                "classes",
                format!("need at least two classes, got {names:?}"),
            ));
        }
        if let Some(n) = names.iter().find(|n| n.trim().is_empty()) {
            return Err(Error::input(
                "classes",
                format!("{n:?} is not a class name (in {names:?})"),
            ));
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(Error::input(
                    "classes",
                    format!("{n:?} is named twice in {names:?}"),
                ));
            }
        }
        let mut classes = Self {
            names,
            positive: None,
        };
        if let Some(p) = positive {
            classes.positive = Some(classes.index(p).ok_or_else(|| {
                Error::input(
                    "classes",
                    format!("the positive class {p:?} is not one of {:?}", classes.names),
                )
            })?);
        }
        Ok(classes)
    }

    /// `k` classes named by their index, `class_0` ... `class_{k-1}`, for a model trained
    /// on [`Samples`](crate::dataset::Samples) whose labels are plain indices: with two, the
    /// positive class is `class_1` (label `1`, as scikit-learn's `pos_label=1`); with more,
    /// there is none. `k` below 2 is taken as 2.
    pub fn indexed(k: usize) -> Self {
        let k = k.max(2);
        Self {
            names: (0..k).map(|i| format!("class_{i}")).collect(),
            positive: (k == 2).then_some(1),
        }
    }

    /// Class names in index order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of classes (at least 2).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always `false` (a [`Classes`] has at least two); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The index of class `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The index of the positive class, if one is named.
    pub fn positive(&self) -> Option<usize> {
        self.positive
    }

    /// The name of the positive class, if one is named.
    pub fn positive_name(&self) -> Option<&str> {
        self.positive.map(|p| self.names[p].as_str())
    }

    /// The positive class for `what` (e.g. "a decision threshold"), or a one-line error
    /// saying that these classes name none.
    pub fn require_positive(&self, what: &str) -> Result<usize> {
        self.positive.ok_or_else(|| {
            Error::input(
                "classes",
                format!(
                    "{what} needs a positive class, and the classes {:?} name none (the manifest's [classes] positive)",
                    self.names
                ),
            )
        })
    }

    /// Two classes, one of them positive: scores are its probability.
    pub fn is_binary(&self) -> bool {
        self.names.len() == 2 && self.positive.is_some()
    }

    /// `true` for each class index in `labels` that is the positive class (all `false`
    /// when none is named).
    pub fn is_positive(&self, labels: &[usize]) -> Vec<bool> {
        labels.iter().map(|&y| Some(y) == self.positive).collect()
    }
}

/// `classes[i]`: the name of class `i` (panics past the last, as a slice does).
impl std::ops::Index<usize> for Classes {
    type Output = String;

    fn index(&self, i: usize) -> &String {
        &self.names[i]
    }
}

/// How [`Classes`] is written: `classes` (names) and `positive` (a name or `null`).
#[derive(Serialize, Deserialize)]
struct Recorded {
    classes: Vec<String>,
    #[serde(default)]
    positive: Positive,
}

/// The `positive` key as read: absent (a file written before it was recorded), `null`, or
/// a name.
#[derive(Default)]
enum Positive {
    #[default]
    NotRecorded,
    Named(Option<String>),
}

impl Serialize for Positive {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Positive::NotRecorded | Positive::Named(None) => s.serialize_none(),
            Positive::Named(Some(n)) => s.serialize_some(n),
        }
    }
}

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Option::<String>::deserialize(d).map(Positive::Named)
    }
}

impl TryFrom<Recorded> for Classes {
    type Error = Error;

    fn try_from(r: Recorded) -> Result<Self> {
        match r.positive {
            Positive::Named(p) => Classes::new(r.classes, p.as_deref()),
            // Written before `positive` was recorded: a binary model's positive class was
            // its second then (see the module docs).
            Positive::NotRecorded => {
                let positive = (r.classes.len() == 2).then(|| r.classes[1].clone());
                Classes::new(r.classes, positive.as_deref())
            }
        }
    }
}

impl From<Classes> for Recorded {
    fn from(c: Classes) -> Self {
        let positive = Positive::Named(c.positive_name().map(str::to_string));
        Recorded {
            classes: c.names,
            positive,
        }
    }
}
