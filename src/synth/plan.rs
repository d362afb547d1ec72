//! The cohort plan: patients, studies, images, sheet rows and planted faults, decided up
//! front from the seed before any file is written. Pure data, no I/O, so the writers
//! (workbooks, DICOM, JPG) can run in any order and in parallel and still agree.

use super::calendar::{Date, Time};
use super::phantom::{Density, Lesion, View};
use super::profile::ProfileSpec;
use super::rng::Rng;

/// The folder that stands for the hospital export (seed 001: `acıbademsana`).
pub const ROOT: &str = "acıbademsana";
/// The two subfolders of the cancer folder; the second has non-ASCII characters.
pub const CANCER_PARTS: [&str; 2] = ["1. kisim", "2. kısım"];
/// Windows prefix of `AbsolutePath` values: the researcher's machine, not ours.
pub const WINDOWS_PREFIX: &str = r"C:\Users\arastirma\OneDrive\Masaüstü";

/// Breast side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Left.
    L,
    /// Right.
    R,
}

impl Side {
    /// DICOM code.
    pub fn code(self) -> &'static str {
        match self {
            Side::L => "L",
            Side::R => "R",
        }
    }
    /// The other breast.
    pub fn other(self) -> Side {
        match self {
            Side::L => Side::R,
            Side::R => Side::L,
        }
    }
}

/// Which list an image belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageClass {
    /// A row of the `Cancer` sheet.
    Cancer,
    /// A row of the `Non-Cancer` sheet.
    Normal,
    /// In the cancer folder and the validation listing, but in no labelled sheet
    /// (the other breast, or an earlier study of a cancer patient).
    Unlisted,
}

/// A device model and how it stores pixels.
#[derive(Debug, Clone, Copy)]
pub struct Device {
    /// DICOM Manufacturer.
    pub manufacturer: &'static str,
    /// DICOM ManufacturerModelName.
    pub model: &'static str,
    /// BitsStored (BitsAllocated is always 16).
    pub bits_stored: u16,
    /// MONOCHROME1 stores bright as low values.
    pub monochrome1: bool,
    /// RescaleSlope.
    pub slope: f64,
    /// RescaleIntercept.
    pub intercept: f64,
}

/// The devices of the synthetic hospital, with their share of studies.
pub const DEVICES: [(Device, f64); 4] = [
    (
        Device {
            manufacturer: "HOLOGIC, Inc.",
            model: "Selenia Dimensions",
            bits_stored: 12,
            monochrome1: false,
            slope: 1.0,
            intercept: 0.0,
        },
        0.45,
    ),
    (
        Device {
            manufacturer: "GE MEDICAL SYSTEMS",
            model: "Senographe Pristina",
            bits_stored: 14,
            monochrome1: false,
            slope: 1.0,
            intercept: 0.0,
        },
        0.25,
    ),
    (
        Device {
            manufacturer: "FUJIFILM Corporation",
            model: "AMULET Innovality",
            bits_stored: 10,
            monochrome1: true,
            slope: 1.0,
            intercept: 0.0,
        },
        0.15,
    ),
    (
        Device {
            manufacturer: "SIEMENS",
            model: "Mammomat Revelation",
            bits_stored: 12,
            monochrome1: false,
            slope: 0.5,
            intercept: 100.0,
        },
        0.15,
    ),
];

/// A synthetic patient.
#[derive(Debug, Clone)]
pub struct Patient {
    /// Shaped like the hospital's (`DIT439120108`), random digits.
    pub id: String,
    /// Pseudonym used as PatientName.
    pub pseudonym: String,
    /// Year of birth.
    pub birth_year: i32,
    /// Density category (constant per patient).
    pub density: Density,
}

impl Patient {
    /// PatientBirthDate (`YYYY0101`: the year is all the plan keeps).
    pub fn birth_date(&self) -> String {
        format!("{:04}0101", self.birth_year)
    }
}

/// A screening or diagnostic study.
#[derive(Debug, Clone)]
pub struct Study {
    /// Index into [`Plan::patients`].
    pub patient: usize,
    /// StudyDate.
    pub date: Date,
    /// StudyTime.
    pub time: Time,
    /// AccessionNumber.
    pub accession: String,
    /// Index into [`DEVICES`].
    pub device: usize,
    /// StudyDescription.
    pub description: &'static str,
}

/// Per-image acquisition values and the stored-value mapping.
#[derive(Debug, Clone, Copy)]
pub struct Acquisition {
    /// KVP.
    pub kvp: f64,
    /// Exposure in mAs.
    pub mas: u32,
    /// Compressed thickness, mm.
    pub thickness: f64,
    /// Compression force, N.
    pub force: f64,
    /// Stored value for brightness 0 (before MONOCHROME1 inversion).
    pub lo: f64,
    /// Stored value for brightness 1.
    pub hi: f64,
    /// WindowCenter (rescaled units).
    pub window_center: f64,
    /// WindowWidth (rescaled units).
    pub window_width: f64,
}

/// File-level faults planted on an image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileFaults {
    /// Neither the DICOM nor the JPG is written.
    pub missing: bool,
    /// The DICOM is truncated inside its pixel data.
    pub corrupt_dicom: bool,
    /// The DICOM header says the other breast.
    pub wrong_header_laterality: bool,
    /// The files are copied into this second folder too.
    pub copy_to: Option<String>,
}

/// One image (a DICOM file plus its JPG export).
#[derive(Debug, Clone)]
pub struct ImagePlan {
    /// Stream id for this image's random numbers.
    pub stream: u64,
    /// File name without extension (`FILE0004`): InputFileName.
    pub file: String,
    /// Index into [`Plan::studies`].
    pub study: usize,
    /// Breast side.
    pub side: Side,
    /// View.
    pub view: View,
    /// Which sheet lists it.
    pub class: ImageClass,
    /// Abnormality drawn.
    pub lesion: Option<Lesion>,
    /// BI-RADS assessment written in the sheet.
    pub birads: u8,
    /// Folder relative to the cohort root, `/`-separated.
    pub folder: String,
    /// Acquisition values.
    pub acq: Acquisition,
    /// Planted file faults.
    pub faults: FileFaults,
}

impl ImagePlan {
    /// Relative path of the DICOM file.
    pub fn dicom_path(&self) -> String {
        format!("{}/{}.dcm", self.folder, self.file)
    }
    /// Relative path of the JPG file.
    pub fn jpg_path(&self) -> String {
        format!("{}/{}.jpg", self.folder, self.file)
    }
    /// The JPG's path on the machine that made the validation listing.
    pub fn windows_path(&self) -> String {
        format!(
            r"{WINDOWS_PREFIX}\{}\{}.jpg",
            self.folder.replace('/', r"\"),
            self.file
        )
    }
}

/// A cell as written into a workbook.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A whole number.
    Int(i64),
    /// Text.
    Text(String),
    /// An Excel date (serial number with a date format).
    Date(Date),
    /// An Excel time (fraction of a day with a time format).
    Time(Time),
}

impl Cell {
    /// What a spreadsheet user sees, for the ground truth.
    pub fn display(&self) -> String {
        match self {
            Cell::Int(i) => i.to_string(),
            Cell::Text(s) => s.clone(),
            Cell::Date(d) => format!("{:04}-{:02}-{:02} (Excel date)", d.y, d.m, d.d),
            Cell::Time(t) => format!("{} (Excel time)", t.colon()),
        }
    }
}

/// A formatting fault on one key cell of a `Cancer` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatFault {
    /// StudyDate as text `2014-12-25`.
    DateIso,
    /// StudyDate as an Excel date cell.
    DateExcel,
    /// StudyDate as text `25.12.2014`.
    DateDotted,
    /// StudyTime as text `11:26:03`.
    TimeColon,
    /// StudyTime as an Excel time cell.
    TimeExcel,
    /// StudyTime as text `092603` where the listing has the number 92603.
    TimeLeadingZero,
    /// PatientID.x with surrounding spaces.
    IdWhitespace,
    /// PatientID.x in lower case.
    IdCase,
    /// InputFileName in lower case.
    FileNameCase,
}

impl FormatFault {
    /// All kinds, in the order they are planted.
    pub const ALL: [FormatFault; 9] = [
        FormatFault::DateIso,
        FormatFault::TimeColon,
        FormatFault::IdWhitespace,
        FormatFault::DateExcel,
        FormatFault::TimeExcel,
        FormatFault::TimeLeadingZero,
        FormatFault::IdCase,
        FormatFault::DateDotted,
        FormatFault::FileNameCase,
    ];

    /// Name used in the ground truth.
    pub fn name(self) -> &'static str {
        match self {
            FormatFault::DateIso => "date_iso_text",
            FormatFault::DateExcel => "date_excel_serial",
            FormatFault::DateDotted => "date_dotted_text",
            FormatFault::TimeColon => "time_colon_text",
            FormatFault::TimeExcel => "time_excel_fraction",
            FormatFault::TimeLeadingZero => "time_leading_zero",
            FormatFault::IdWhitespace => "id_whitespace",
            FormatFault::IdCase => "id_case",
            FormatFault::FileNameCase => "file_name_case",
        }
    }

    /// The key column the fault sits in.
    pub fn column(self) -> &'static str {
        match self {
            FormatFault::DateIso | FormatFault::DateExcel | FormatFault::DateDotted => "StudyDate",
            FormatFault::TimeColon | FormatFault::TimeExcel | FormatFault::TimeLeadingZero => {
                "StudyTime"
            }
            FormatFault::IdWhitespace | FormatFault::IdCase => "PatientID.x",
            FormatFault::FileNameCase => "InputFileName",
        }
    }
}

/// What a `Cancer` row is for in the merge story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancerRole {
    /// Matches one listing row by seed 001's exact UniqueKey.
    Exact,
    /// Matches one listing row only after normalising a key part.
    Format(FormatFault),
    /// Its study is absent from the listing.
    NoCounterpart,
    /// The same image exported twice (both rows have this role); absent from the listing.
    Duplicate,
}

/// What a `Non-Cancer` row carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalRole {
    /// Nothing planted.
    Plain,
    /// The same image listed twice (both rows).
    Duplicate,
    /// InputFileName with a trailing space.
    FileNameWhitespace,
}

/// One spreadsheet row: the image it describes and the four key cells as written.
#[derive(Debug, Clone)]
pub struct Row {
    /// Index into [`Plan::images`].
    pub image: usize,
    /// InputFileName cell.
    pub file: Cell,
    /// StudyDate cell.
    pub date: Cell,
    /// StudyTime cell.
    pub time: Cell,
    /// PatientID.x cell.
    pub patient: Cell,
}

/// Everything the writers need.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Patients.
    pub patients: Vec<Patient>,
    /// Studies.
    pub studies: Vec<Study>,
    /// Images.
    pub images: Vec<ImagePlan>,
    /// `Cancer` sheet rows in sheet order, with their role.
    pub cancer: Vec<(Row, CancerRole)>,
    /// `Non-Cancer` sheet rows in sheet order, with their role.
    pub normal: Vec<(Row, NormalRole)>,
    /// Validation listing rows in sheet order; `true` marks the two rows of the planted duplicate.
    pub listing: Vec<(Row, bool)>,
    /// Patients planted in both classes (indices into `patients`).
    pub both_classes: Vec<usize>,
}

impl Plan {
    /// The canonical key cells of an image, as the hospital system writes them.
    pub fn canonical_row(&self, image: usize) -> Row {
        let img = &self.images[image];
        let st = &self.studies[img.study];
        Row {
            image,
            file: Cell::Text(img.file.clone()),
            date: Cell::Int(st.date.as_int()),
            time: Cell::Int(st.time.as_int()),
            patient: Cell::Text(self.patients[st.patient].id.clone()),
        }
    }

    /// Build the plan for a profile and seed.
    pub fn build(spec: &ProfileSpec, seed: u64) -> Plan {
        let mut rng = Rng::derive(seed, 0xC0_4027);
        let mut b = Builder {
            plan: Plan {
                patients: vec![],
                studies: vec![],
                images: vec![],
                cancer: vec![],
                normal: vec![],
                listing: vec![],
                both_classes: vec![],
            },
            rng: &mut rng,
            spec,
        };
        b.run();
        b.plan
    }
}

struct Builder<'a> {
    plan: Plan,
    rng: &'a mut Rng,
    spec: &'a ProfileSpec,
}

impl Builder<'_> {
    fn run(&mut self) {
        let spec = self.spec;
        // Cancer studies: the affected breast's CC and MLO are `Cancer` rows; one image is
        // exported twice, so the sheet has one more row than distinct cancer images.
        let cancer_images = spec.cancer_rows - 1;
        let n_cancer_studies = cancer_images.div_ceil(2);
        let mut cancer_ids = vec![];
        let mut cancer_patients = vec![];
        for s in 0..n_cancer_studies {
            let p = self.new_patient(70, 45);
            cancer_patients.push(p);
            let date = self.random_date(2015, 2019);
            let part = CANCER_PARTS[usize::from(s >= n_cancer_studies / 2)];
            let st = self.new_study(p, date, "MAMMOGRAPHY DIAGNOSTIC BILATERAL");
            let affected = if self.rng.chance(0.5) {
                Side::L
            } else {
                Side::R
            };
            for side in [Side::L, Side::R] {
                for view in [View::Cc, View::Mlo] {
                    let cancer = side == affected && cancer_ids.len() < cancer_images;
                    let lesion = if side == affected {
                        Some(if self.rng.chance(0.65) {
                            Lesion::SpiculatedMass
                        } else {
                            Lesion::Calcifications
                        })
                    } else {
                        self.maybe_benign()
                    };
                    let class = if cancer {
                        ImageClass::Cancer
                    } else {
                        ImageClass::Unlisted
                    };
                    let birads = if side == affected {
                        4 + self.rng.below(2) as u8
                    } else {
                        1
                    };
                    let i = self.new_image(
                        st,
                        side,
                        view,
                        class,
                        lesion,
                        birads,
                        format!("{ROOT}/Cancer/{part}"),
                    );
                    if cancer {
                        cancer_ids.push(i);
                    }
                }
            }
        }

        // Earlier studies of cancer patients fill the listing up to its row count.
        let listed_cancer = spec.cancer_rows - spec.missing_counterparts - 2;
        let unlisted = self.count(ImageClass::Unlisted);
        let base = listed_cancer + unlisted + 1;
        let mut need = spec.validation_rows - base;
        let mut k = 0;
        while need > 0 {
            let p = cancer_patients[k % cancer_patients.len()];
            let later = self.first_study_date(p);
            let date = Date::from_days(
                later.to_days()
                    - 365
                    - self.rng.range_i64(0, 300)
                    - 400 * (k / cancer_patients.len()) as i64,
            );
            let part = self.plan.images[self.first_image_of(p)].folder.clone();
            let st = self.new_study(p, date, "MAMMOGRAPHY SCREENING BILATERAL");
            need -= self.screening_images(st, ImageClass::Unlisted, &part, need);
            k += 1;
        }

        // Normal studies. The first ones belong to cancer patients (an earlier normal
        // screen): the same patient in both classes, a leakage trap for image-level splits.
        let normal_images = spec.non_cancer_rows - 1;
        let mut made = 0;
        let mut both = 0;
        let mut repeat: Option<(usize, Date)> = None;
        while made < normal_images {
            let (p, date) = if both < spec.both_class_patients {
                let p = cancer_patients[both * 7 % cancer_patients.len()];
                self.plan.both_classes.push(p);
                both += 1;
                let d = self.first_study_date(p);
                (
                    p,
                    Date::from_days(d.to_days() - 3 * 365 - self.rng.range_i64(0, 200)),
                )
            } else if let Some((p, d)) = repeat.take() {
                (
                    p,
                    Date::from_days(d.to_days() + 365 + self.rng.range_i64(-30, 60)),
                )
            } else {
                let p = self.new_patient(58, 40);
                let d = self.random_date(2012, 2018);
                if self.rng.chance(0.12) {
                    repeat = Some((p, d));
                }
                (p, d)
            };
            let st = self.new_study(p, date, "MAMMOGRAPHY SCREENING BILATERAL");
            made += self.screening_images(st, ImageClass::Normal, "", normal_images - made);
        }

        self.number_files_and_batch();
        self.cancer_rows(&cancer_ids);
        self.listing_rows();
        self.normal_rows();
    }

    fn count(&self, class: ImageClass) -> usize {
        self.plan.images.iter().filter(|i| i.class == class).count()
    }

    fn first_study_date(&self, p: usize) -> Date {
        self.plan
            .studies
            .iter()
            .find(|s| s.patient == p)
            .map(|s| s.date)
            .expect("patient has a study")
    }

    fn first_image_of(&self, p: usize) -> usize {
        self.plan
            .images
            .iter()
            .position(|i| self.plan.studies[i.study].patient == p)
            .expect("patient has an image")
    }

    fn new_patient(&mut self, mean_age: i64, min_age: i64) -> usize {
        let digits = self.rng.range_i64(100_000_000, 999_999_999);
        let n = self.plan.patients.len();
        let age = (mean_age as f64 + 9.0 * self.rng.normal())
            .round()
            .clamp(min_age as f64, 89.0) as i32;
        let density = match self.rng.weighted(&[0.10, 0.40, 0.40, 0.10]) {
            0 => Density::A,
            1 => Density::B,
            2 => Density::C,
            _ => Density::D,
        };
        self.plan.patients.push(Patient {
            id: format!("DIT{digits}"),
            pseudonym: format!("P{:06}", n + 1),
            birth_year: 2017 - age,
            density,
        });
        n
    }

    fn random_date(&mut self, from_year: i32, to_year: i32) -> Date {
        let a = Date {
            y: from_year,
            m: 1,
            d: 1,
        }
        .to_days();
        let b = Date {
            y: to_year,
            m: 12,
            d: 31,
        }
        .to_days();
        Date::from_days(self.rng.range_i64(a, b))
    }

    fn new_study(&mut self, patient: usize, date: Date, description: &'static str) -> usize {
        let time = Time {
            h: self.rng.range_i64(8, 17) as u32,
            m: self.rng.below(60) as u32,
            s: self.rng.below(60) as u32,
        };
        let weights: Vec<f64> = DEVICES.iter().map(|d| d.1).collect();
        let device = self.rng.weighted(&weights);
        let accession = format!("A{}{:07}", date.y, self.rng.below(10_000_000));
        self.plan.studies.push(Study {
            patient,
            date,
            time,
            accession,
            device,
            description,
        });
        self.plan.studies.len() - 1
    }

    /// The four screening views of a study (at most `limit` of them), each with a small
    /// chance of a benign mass; returns how many were added.
    fn screening_images(
        &mut self,
        st: usize,
        class: ImageClass,
        folder: &str,
        limit: usize,
    ) -> usize {
        let views = [
            (Side::L, View::Cc),
            (Side::L, View::Mlo),
            (Side::R, View::Cc),
            (Side::R, View::Mlo),
        ];
        for &(side, view) in views.iter().take(limit) {
            let lesion = self.maybe_benign();
            let birads = if lesion.is_some() { 2 } else { 1 };
            self.new_image(st, side, view, class, lesion, birads, folder.to_string());
        }
        limit.min(views.len())
    }

    fn maybe_benign(&mut self) -> Option<Lesion> {
        self.rng.chance(0.05).then_some(Lesion::BenignMass)
    }

    #[allow(clippy::too_many_arguments)]
    fn new_image(
        &mut self,
        study: usize,
        side: Side,
        view: View,
        class: ImageClass,
        lesion: Option<Lesion>,
        birads: u8,
        folder: String,
    ) -> usize {
        let dev = DEVICES[self.plan.studies[study].device].0;
        let maxv = ((1u32 << dev.bits_stored) - 1) as f64;
        let lo = (maxv * self.rng.range_f64(0.03, 0.08)).round();
        let hi = (maxv * self.rng.range_f64(0.86, 0.96)).round();
        // The window spans the stored range of brightness [0, 1], narrowed a little at
        // random, in rescaled units (MONOCHROME1 stores the same range mirrored).
        let (s0, s1) = if dev.monochrome1 {
            (maxv - hi, maxv - lo)
        } else {
            (lo, hi)
        };
        let (r0, r1) = (
            s0 * dev.slope + dev.intercept,
            s1 * dev.slope + dev.intercept,
        );
        let narrow = self.rng.range_f64(0.9, 1.0);
        let acq = Acquisition {
            kvp: 26.0 + self.rng.below(7) as f64,
            mas: self.rng.range_i64(40, 200) as u32,
            thickness: (self.rng.range_f64(30.0, 80.0) * 10.0).round() / 10.0,
            force: (self.rng.range_f64(60.0, 150.0) * 10.0).round() / 10.0,
            lo,
            hi,
            window_center: ((r0 + r1) / 2.0).round(),
            window_width: ((r1 - r0) * narrow).round(),
        };
        self.plan.images.push(ImagePlan {
            stream: self.plan.images.len() as u64,
            file: String::new(),
            study,
            side,
            view,
            class,
            lesion,
            birads,
            folder,
            acq,
            faults: FileFaults::default(),
        });
        self.plan.images.len() - 1
    }

    /// FILE numbers follow a shuffled export order; normal images go into batches of
    /// `batch_size` in that order.
    fn number_files_and_batch(&mut self) {
        let n = self.plan.images.len();
        let width = n.to_string().len().max(4);
        let mut order: Vec<usize> = (0..n).collect();
        self.rng.shuffle(&mut order);
        let mut normal_seen = 0;
        for (k, &i) in order.iter().enumerate() {
            let img = &mut self.plan.images[i];
            img.file = format!("FILE{:0width$}", k + 1);
            if img.class == ImageClass::Normal {
                img.folder = format!(
                    "{ROOT}/Non-Cancer/batch_{:02}",
                    normal_seen / self.spec.batch_size + 1
                );
                normal_seen += 1;
            }
        }
    }

    fn cancer_rows(&mut self, cancer_ids: &[usize]) {
        let spec = self.spec;
        let mut ids = cancer_ids.to_vec();
        self.rng.shuffle(&mut ids);
        // Roles are taken from the front of the shuffled list.
        let mut roles: Vec<CancerRole> = Vec::with_capacity(ids.len());
        roles.push(CancerRole::Duplicate);
        for _ in 0..spec.missing_counterparts {
            roles.push(CancerRole::NoCounterpart);
        }
        for k in 0..spec.format_faults {
            roles.push(CancerRole::Format(
                FormatFault::ALL[k % FormatFault::ALL.len()],
            ));
        }
        roles.resize(ids.len(), CancerRole::Exact);
        for (&image, &role) in ids.iter().zip(&roles) {
            if let CancerRole::Format(FormatFault::TimeLeadingZero) = role {
                // The fault needs a morning study (a time with a leading zero). Set before
                // any row is built, so every row of that study carries the same time.
                let st = self.plan.images[image].study;
                self.plan.studies[st].time.h = 9;
            }
        }
        let mut rows: Vec<(Row, CancerRole)> = vec![];
        for (&image, &role) in ids.iter().zip(&roles) {
            let mut row = self.plan.canonical_row(image);
            if let CancerRole::Format(f) = role {
                self.apply_format_fault(&mut row, f);
            }
            rows.push((row, role));
        }
        let dup = rows[0].clone();
        let at = 1 + self.rng.below(rows.len() as u64 - 1) as usize;
        rows.insert(at, dup);
        // The sheet's order is the export's, not the plan's.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        self.rng.shuffle(&mut order);
        self.plan.cancer = order.into_iter().map(|i| rows[i].clone()).collect();
    }

    fn apply_format_fault(&self, row: &mut Row, f: FormatFault) {
        let img = &self.plan.images[row.image];
        let st = &self.plan.studies[img.study];
        let pid = &self.plan.patients[st.patient].id;
        let (d, t) = (st.date, st.time);
        match f {
            FormatFault::DateIso => {
                row.date = Cell::Text(format!("{:04}-{:02}-{:02}", d.y, d.m, d.d))
            }
            FormatFault::DateExcel => row.date = Cell::Date(d),
            FormatFault::DateDotted => {
                row.date = Cell::Text(format!("{:02}.{:02}.{:04}", d.d, d.m, d.y))
            }
            FormatFault::TimeColon => row.time = Cell::Text(t.colon()),
            FormatFault::TimeExcel => row.time = Cell::Time(t),
            FormatFault::TimeLeadingZero => row.time = Cell::Text(t.compact()),
            FormatFault::IdWhitespace => row.patient = Cell::Text(format!(" {pid} ")),
            FormatFault::IdCase => row.patient = Cell::Text(pid.to_lowercase()),
            FormatFault::FileNameCase => row.file = Cell::Text(img.file.to_lowercase()),
        }
    }

    fn listing_rows(&mut self) {
        let mut rows: Vec<(Row, bool)> = vec![];
        for (row, role) in &self.plan.cancer {
            if matches!(role, CancerRole::Exact | CancerRole::Format(_)) {
                rows.push((self.plan.canonical_row(row.image), false));
            }
        }
        let unlisted: Vec<usize> = (0..self.plan.images.len())
            .filter(|&i| self.plan.images[i].class == ImageClass::Unlisted)
            .collect();
        for &i in &unlisted {
            rows.push((self.plan.canonical_row(i), false));
        }
        let dup = unlisted[self.rng.below(unlisted.len() as u64) as usize];
        rows.push((self.plan.canonical_row(dup), true));
        for r in rows.iter_mut().filter(|r| r.0.image == dup) {
            r.1 = true;
        }
        // A directory listing: sorted by path.
        let images = &self.plan.images;
        rows.sort_by(|a, b| {
            images[a.0.image]
                .windows_path()
                .cmp(&images[b.0.image].windows_path())
        });
        self.plan.listing = rows;
    }

    fn normal_rows(&mut self) {
        let mut ids: Vec<usize> = (0..self.plan.images.len())
            .filter(|&i| self.plan.images[i].class == ImageClass::Normal)
            .collect();
        ids.sort_by(|&a, &b| self.plan.images[a].file.cmp(&self.plan.images[b].file));
        // Pick distinct images for the file-level and row-level faults.
        let mut pool: Vec<usize> = (0..ids.len()).collect();
        self.rng.shuffle(&mut pool);
        let batches = ids.len().div_ceil(self.spec.batch_size);
        let [dup, ws, missing, corrupt, wrong_lat, copied] =
            [pool[0], pool[1], pool[2], pool[3], pool[4], pool[5]];
        self.plan.images[ids[missing]].faults.missing = true;
        self.plan.images[ids[corrupt]].faults.corrupt_dicom = true;
        self.plan.images[ids[wrong_lat]]
            .faults
            .wrong_header_laterality = true;
        let from = self.plan.images[ids[copied]].folder.clone();
        let batch: usize = from
            .rsplit('_')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let to_batch = if batch < batches { batch + 1 } else { 1 };
        self.plan.images[ids[copied]].faults.copy_to =
            Some(format!("{ROOT}/Non-Cancer/batch_{to_batch:02}"));

        let mut rows = vec![];
        for (k, &i) in ids.iter().enumerate() {
            let mut row = self.plan.canonical_row(i);
            if k == ws {
                row.file = Cell::Text(format!("{} ", self.plan.images[i].file));
                rows.push((row, NormalRole::FileNameWhitespace));
            } else if k == dup {
                rows.push((row.clone(), NormalRole::Duplicate));
                rows.push((row, NormalRole::Duplicate));
            } else {
                rows.push((row, NormalRole::Plain));
            }
        }
        self.plan.normal = rows;
    }
}
