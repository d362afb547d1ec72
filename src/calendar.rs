//! Civil dates and times without a date crate: the cohort and the key normalisation need
//! only a few conversions (days since 1970, Excel serials, compact DICOM forms).

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub y: i32,
    /// Month 1-12.
    pub m: u32,
    /// Day 1-31.
    pub d: u32,
}

/// A time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    /// Hour 0-23.
    pub h: u32,
    /// Minute.
    pub m: u32,
    /// Second.
    pub s: u32,
}

impl Date {
    /// Days since 1970-01-01 (Hinnant's `days_from_civil`).
    pub fn to_days(self) -> i64 {
        let y = if self.m <= 2 { self.y - 1 } else { self.y } as i64;
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = self.m as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.d as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe - 719468
    }

    /// The date `days` after 1970-01-01 (Hinnant's `civil_from_days`).
    pub fn from_days(days: i64) -> Self {
        let z = days + 719468;
        let era = if z >= 0 { z } else { z - 146096 } / 146097;
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = (yoe + era * 400 + if m <= 2 { 1 } else { 0 }) as i32;
        Date { y, m, d }
    }

    /// `20141225`, as DICOM DA and the hospital's sheets write it.
    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.y, self.m, self.d)
    }

    /// The compact form as a number.
    pub fn as_int(self) -> i64 {
        self.y as i64 * 10000 + self.m as i64 * 100 + self.d as i64
    }
}

impl Time {
    /// `112603`, as DICOM TM writes it.
    pub fn compact(self) -> String {
        format!("{:02}{:02}{:02}", self.h, self.m, self.s)
    }

    /// The compact form as a number (leading zero lost: 09:26:03 is 92603).
    pub fn as_int(self) -> i64 {
        self.h as i64 * 10000 + self.m as i64 * 100 + self.s as i64
    }

    /// `11:26:03`.
    pub fn colon(self) -> String {
        format!("{:02}:{:02}:{:02}", self.h, self.m, self.s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_values() {
        assert_eq!(
            Date {
                y: 1970,
                m: 1,
                d: 1
            }
            .to_days(),
            0
        );
        // Excel's epoch 1899-12-30 is 25569 days before the Unix epoch.
        assert_eq!(
            Date {
                y: 1899,
                m: 12,
                d: 30
            }
            .to_days(),
            -25569
        );
        for d in [-30000, -1, 0, 59, 60, 11016, 16429, 20000] {
            assert_eq!(Date::from_days(d).to_days(), d);
        }
        assert_eq!(Date::from_days(16429).compact(), "20141225");
        assert_eq!(Time { h: 9, m: 26, s: 3 }.as_int(), 92603);
    }
}
