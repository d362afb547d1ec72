//! Histology patches that name their place on the slide: seed 003's IDC download calls a
//! patch `8863_idx5_x451_y1451_class0.png`, the patch whose top-left pixel is column 451,
//! row 1451 (1-based) of patient 8863's whole-slide image.

/// What an IDC patch's file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchName {
    /// The patient (the slide): the name's first `_`-separated part.
    pub patient: String,
    /// Column of the patch's top-left pixel on the slide (1-based, as in the name).
    pub x: u32,
    /// Row of the patch's top-left pixel (1-based).
    pub y: u32,
    /// The class the name ends in (`_class0` / `_class1`), if it says one.
    pub class: Option<u8>,
}

impl PatchName {
    /// Read a file name (with or without its folders and extension); `None` when it names
    /// no `_x<X>_y<Y>` place (a coordinate of 0 is not a place: they count from 1).
    ///
    /// ```
    /// use mammolab::ingest::histology::PatchName;
    /// let p = PatchName::parse("IDC_regular_ps50_idx5/8863/0/8863_idx5_x451_y1451_class0.png").unwrap();
    /// assert_eq!((p.patient.as_str(), p.x, p.y, p.class), ("8863", 451, 1451, Some(0)));
    /// assert!(PatchName::parse("mdb001.pgm").is_none());
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
        let parts: Vec<&str> = stem.split('_').collect();
        let number = |prefix: char| -> Option<u32> {
            parts
                .iter()
                .filter_map(|p| p.strip_prefix(prefix))
                .find_map(|v| v.parse::<u32>().ok())
                .filter(|&n| n > 0)
        };
        let class = parts
            .iter()
            .filter_map(|p| p.strip_prefix("class"))
            .find_map(|v| v.parse::<u8>().ok());
        Some(Self {
            patient: parts.first().filter(|p| !p.is_empty())?.to_string(),
            x: number('x')?,
            y: number('y')?,
            class,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::PatchName;

    #[test]
    fn names_with_and_without_a_place() {
        let p = PatchName::parse("10253_idx5_x1351_y1101_class1.png").unwrap();
        assert_eq!((p.x, p.y, p.class), (1351, 1101, Some(1)));
        assert_eq!(p.patient, "10253");
        let p = PatchName::parse("C:\\data\\9123\\1\\9123_idx5_x1_y51_class1.png").unwrap();
        assert_eq!((p.patient.as_str(), p.x, p.y), ("9123", 1, 51));
        assert_eq!(
            PatchName::parse("9123_idx5_x51_y51.png").unwrap().class,
            None
        );
        for bad in [
            "FILE0004.jpg",
            "9123_idx5_x0_y51_class1.png",
            "9123_idx5_xa_y51.png",
            "_x1_y1.png",
        ] {
            assert!(PatchName::parse(bad).is_none(), "{bad}");
        }
    }
}
