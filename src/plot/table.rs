//! HTML display of polars DataFrames (reports, audits, sweeps) in evcxr notebooks, which
//! have no notebook display for DataFrames of their own.

use polars::prelude::*;

/// A DataFrame shown as an HTML table: the first and last rows when it is long, every
/// value escaped, the shape in a caption.
#[derive(Debug, Clone)]
pub struct Table {
    frame: DataFrame,
    max_rows: usize,
    digits: usize,
}

impl Table {
    /// Show `frame` with at most 20 rows and 4 decimals.
    pub fn new(frame: DataFrame) -> Self {
        Self {
            frame,
            max_rows: 20,
            digits: 4,
        }
    }

    /// Show at most `n` rows (half from the top, half from the bottom).
    pub fn with_max_rows(mut self, n: usize) -> Self {
        self.max_rows = n.max(2);
        self
    }

    /// Decimals for floating-point columns.
    pub fn with_digits(mut self, digits: usize) -> Self {
        self.digits = digits;
        self
    }

    /// The wrapped DataFrame.
    pub fn frame(&self) -> &DataFrame {
        &self.frame
    }

    fn cell(&self, v: AnyValue) -> String {
        match v {
            AnyValue::Null => "<td class=\"null\">null</td>".into(),
            AnyValue::Float64(x) => format!("<td>{x:.*}</td>", self.digits),
            AnyValue::Float32(x) => format!("<td>{x:.*}</td>", self.digits),
            AnyValue::String(s) => format!("<td>{}</td>", escape(s)),
            other => format!("<td>{}</td>", escape(&other.to_string())),
        }
    }

    /// The table as an HTML fragment.
    pub fn to_html(&self) -> String {
        let (h, w) = self.frame.shape();
        let mut s = String::from("<table class=\"mammolab\" style=\"border-collapse:collapse\">\n");
        s.push_str(&format!(
            "<caption>{h} rows x {w} columns</caption>\n<thead><tr>"
        ));
        for c in self.frame.columns() {
            s.push_str(&format!(
                "<th title=\"{}\">{}</th>",
                escape(&c.dtype().to_string()),
                escape(c.name())
            ));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        let rows: Vec<Option<usize>> = if h <= self.max_rows {
            (0..h).map(Some).collect()
        } else {
            let top = self.max_rows.div_ceil(2);
            (0..top)
                .map(Some)
                .chain([None])
                .chain((h - (self.max_rows - top)..h).map(Some))
                .collect()
        };
        for r in rows {
            s.push_str("<tr>");
            match r {
                Some(r) => {
                    for c in self.frame.columns() {
                        let v = c.get(r).unwrap_or(AnyValue::Null);
                        s.push_str(&self.cell(v));
                    }
                }
                None => s.push_str(&format!("<td colspan=\"{w}\">&hellip;</td>")),
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody></table>");
        s
    }

    /// Show the table inline in an evcxr notebook (writes the display protocol to stdout).
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.to_html()
        );
    }
}

impl From<DataFrame> for Table {
    fn from(frame: DataFrame) -> Self {
        Self::new(frame)
    }
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}
