//! Chart geometry shared by every plot: linear scales with round ticks, the plot frame, and
//! number formatting. Coordinates are SVG user units rounded to 0.1, so output is
//! deterministic and compact.

use serde::Serialize;

/// Plot frame of a chart: the SVG size and the data area inside the margins.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Frame {
    /// SVG width.
    pub width: f64,
    /// SVG height.
    pub height: f64,
    /// Left edge of the data area.
    pub left: f64,
    /// Right edge of the data area.
    pub right: f64,
    /// Top edge of the data area.
    pub top: f64,
    /// Bottom edge of the data area.
    pub bottom: f64,
}

impl Frame {
    /// A `width` x `height` chart with room for tick labels left and below.
    pub fn new(width: f64, height: f64) -> Frame {
        Frame {
            width,
            height,
            left: 58.0,
            right: width - 12.0,
            top: 14.0,
            bottom: height - 34.0,
        }
    }
}

/// A tick: its position along the axis (SVG units) and its label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    /// Position in SVG units.
    pub pos: f64,
    /// Label.
    pub label: String,
}

/// A linear map from a data range onto an SVG range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
    step: f64,
    whole: bool,
}

impl Scale {
    /// Covers `[lo, hi]` (widened to round ticks, four to six of them) onto `[from, to]`.
    pub fn nice(lo: f64, hi: f64, from: f64, to: f64) -> Scale {
        let (lo, hi) = if !lo.is_finite() || !hi.is_finite() || lo > hi {
            (0.0, 1.0)
        } else if lo == hi {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo - pad, hi + pad)
        } else {
            (lo, hi)
        };
        let step = nice_step((hi - lo) / 5.0);
        Scale {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            from,
            to,
            step,
            whole: false,
        }
    }

    /// The same scale, rounding coordinates to whole units (small charts with many points).
    pub fn whole(self) -> Scale {
        Scale {
            whole: true,
            ..self
        }
    }

    /// The SVG coordinate of `v` (rounded to 0.1, or to 1 for [`Scale::whole`]).
    pub fn at(&self, v: f64) -> f64 {
        let span = self.hi - self.lo;
        let t = if span > 0.0 {
            (v - self.lo) / span
        } else {
            0.5
        };
        let at = self.from + t * (self.to - self.from);
        if self.whole { at.round() } else { round1(at) }
    }

    /// Ticks at every step from the low to the high end.
    pub fn ticks(&self) -> Vec<Tick> {
        let n = ((self.hi - self.lo) / self.step).round() as i64;
        // Decimals the step needs: 0 for 20, 1 for 0.5, 2 for 0.02.
        let decimals = (-self.step.log10().floor()).clamp(0.0, 9.0) as usize;
        (0..=n.clamp(0, 20))
            .map(|i| {
                let v = self.lo + i as f64 * self.step;
                Tick {
                    pos: self.at(v),
                    label: format!("{v:.decimals$}"),
                }
            })
            .collect()
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 || raw.is_infinite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Rounds to one decimal.
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A number for labels: `12345`, `123.4` ... `0.0123`, three significant digits below 100.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// `x1,y1 x2,y2 ...` for a `<polyline points>` attribute.
pub fn polyline(points: impl IntoIterator<Item = (f64, f64)>) -> String {
    let mut s = String::new();
    for (x, y) in points {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&format!("{},{}", round1(x), round1(y)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        let s = Scale::nice(3.0, 97.0, 0.0, 100.0);
        let labels: Vec<_> = s.ticks().into_iter().map(|t| t.label).collect();
        assert_eq!(labels, ["0", "20", "40", "60", "80", "100"]);
        let small = Scale::nice(0.0, 0.09, 0.0, 1.0).ticks();
        assert_eq!(small.get(1).map(|t| t.label.as_str()), Some("0.02"));
        assert_eq!(s.at(0.0), 0.0);
        assert_eq!(s.at(100.0), 100.0);
        assert_eq!(s.at(50.0), 50.0);
    }

    #[test]
    fn degenerate_ranges_still_scale() {
        let s = Scale::nice(5.0, 5.0, 0.0, 10.0);
        assert!(s.at(5.0) > 0.0 && s.at(5.0) < 10.0);
        let s = Scale::nice(f64::NAN, 1.0, 0.0, 10.0);
        assert_eq!(s.ticks().len(), 6);
    }

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(fmt_num(12345.6), "12346");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(1.2345), "1.23");
        assert_eq!(fmt_num(0.012345), "0.012");
        assert_eq!(polyline([(1.0, 2.04), (3.15, 4.0)]), "1,2 3.2,4");
    }
}
