//! A small SVG writer for the charts: elements are written straight into a `String`, and every
//! text or attribute value from the input goes through [`esc`]. Written by hand rather than
//! through the page template because a large report has hundreds of thousands of chart
//! elements: the template engine spent 2 s on them, this writer a tenth of that.

use std::fmt::Write as _;

use crate::chart::{Frame, Tick};

/// Appends `s` with `&`, `<`, `>`, `"` and `'` escaped (safe in text and quoted attributes).
pub(crate) fn esc(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// One chart being written.
pub(crate) struct Svg {
    out: String,
}

impl Svg {
    /// `<svg class="chart {kind}" viewBox=...>`; the enclosing `<figure>`'s caption names it.
    pub(crate) fn open(kind: &str, frame: &Frame) -> Svg {
        let mut out = String::with_capacity(4096);
        let _ = write!(
            out,
            "<svg class=\"chart {kind}\" viewBox=\"0 0 {} {}\">",
            frame.width, frame.height
        );
        Svg { out }
    }

    /// Grid, frame, tick labels and axis titles.
    pub(crate) fn axes(&mut self, f: &Frame, x: &[Tick], y: &[Tick], xlabel: &str, ylabel: &str) {
        let o = &mut self.out;
        o.push_str("<g class=\"axis\"><path class=\"grid\" d=\"");
        for t in y {
            let _ = write!(o, "M{} {}H{}", f.left, t.pos, f.right);
        }
        o.push_str("\"/><path class=\"frame\" d=\"");
        let _ = write!(o, "M{} {}V{}H{}", f.left, f.top, f.bottom, f.right);
        for t in x {
            let _ = write!(o, "M{} {}v4", t.pos, f.bottom);
        }
        o.push_str("\"/><g text-anchor=\"end\">");
        for t in y {
            let _ = write!(o, "<text x=\"{}\" y=\"{}\">", f.left - 5.0, t.pos + 4.0);
            esc(o, &t.label);
            o.push_str("</text>");
        }
        o.push_str("</g><g text-anchor=\"middle\">");
        for t in x {
            let _ = write!(o, "<text x=\"{}\" y=\"{}\">", t.pos, f.bottom + 16.0);
            esc(o, &t.label);
            o.push_str("</text>");
        }
        let _ = write!(
            o,
            "<text class=\"label\" x=\"{}\" y=\"{}\">",
            (f.left + f.right) / 2.0,
            f.height - 4.0
        );
        esc(o, xlabel);
        o.push_str("</text>");
        if !ylabel.is_empty() {
            let _ = write!(
                o,
                "<text class=\"label\" transform=\"rotate(-90)\" x=\"{}\" y=\"12\">",
                -(f.top + f.bottom) / 2.0
            );
            esc(o, ylabel);
            o.push_str("</text>");
        }
        o.push_str("</g></g>");
    }

    /// `<polyline class=... points=... [data-tip=...]/>`; nothing for an empty line.
    pub(crate) fn polyline(&mut self, class: &str, points: &str, tip: Option<&str>) {
        if points.is_empty() {
            return;
        }
        let _ = write!(self.out, "<polyline class=\"{class}\" points=\"{points}\"");
        self.tip(tip);
        self.out.push_str("/>");
    }

    /// `<circle class=... cx cy r [data-tip]/>`.
    pub(crate) fn circle(&mut self, class: &str, cx: f64, cy: f64, r: f64, tip: Option<&str>) {
        let _ = write!(
            self.out,
            "<circle class=\"{class}\" cx=\"{cx}\" cy=\"{cy}\" r=\"{r}\""
        );
        self.tip(tip);
        self.out.push_str("/>");
    }

    /// `<a href="#anchor">`; closed by [`Svg::close_link`]. `anchor` is never input text.
    pub(crate) fn open_link(&mut self, anchor: &str) {
        let _ = write!(self.out, "<a href=\"#{anchor}\">");
    }

    /// `</a>`.
    pub(crate) fn close_link(&mut self) {
        self.out.push_str("</a>");
    }

    /// A text label at (x, y), anchored at its end when `end`.
    pub(crate) fn text(&mut self, class: &str, x: f64, y: f64, end: bool, text: &str) {
        let _ = write!(self.out, "<text class=\"{class}\" x=\"{x}\" y=\"{y}\"");
        if end {
            self.out.push_str(" text-anchor=\"end\"");
        }
        self.out.push('>');
        esc(&mut self.out, text);
        self.out.push_str("</text>");
    }

    /// Any element from trusted parts: `raw` must hold no input text.
    pub(crate) fn raw(&mut self, raw: &str, tip: Option<&str>) {
        self.out.push_str(raw);
        self.tip(tip);
        self.out.push_str("/>");
    }

    fn tip(&mut self, tip: Option<&str>) {
        if let Some(t) = tip {
            self.out.push_str(" data-tip=\"");
            esc(&mut self.out, t);
            self.out.push('"');
        }
    }

    /// `</svg>` and the markup.
    pub(crate) fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        let mut s = String::new();
        esc(&mut s, r#"<a href="x">'&'</a>"#);
        assert_eq!(s, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
