//! Hand-written SVG plots (`--svg DIR`): a line chart and a grouped bar
//! chart, with axes, ticks and a legend. No dependency, nothing clever.

use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
    /// Vertical bars from low to high at some x values `(x, low, high)`:
    /// the spread of repeated measurements behind a point.
    pub ranges: Vec<(f64, f64, f64)>,
}

pub struct LineChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_min: f64,
    pub x_max: f64,
    pub y_max: f64,
    /// Where to put the x-axis ticks (`None`: round numbers).
    pub x_ticks: Option<Vec<f64>>,
    /// A dashed vertical line with a label, at an x value.
    pub x_marker: Option<(f64, &'a str)>,
    /// A warning printed in red under the title.
    pub note: Option<&'a str>,
    pub series: Vec<Series<'a>>,
}

pub struct BarChart<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    pub labels: &'a [String],
    /// (name, colour, one value per label)
    pub series: &'a [(&'a str, &'a str, Vec<f64>)],
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// About five round tick values from 0 (or `min`) to `max`.
fn ticks(min: f64, max: f64) -> Vec<f64> {
    let span = (max - min).max(f64::EPSILON);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let mut t = (min / step).ceil() * step;
    let mut out = Vec::new();
    while t <= max + step * 1e-9 {
        out.push(t);
        t += step;
    }
    out
}

fn label(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The frame: background, title, axis labels, horizontal grid with y ticks.
fn frame(svg: &mut String, title: &str, x_label: &str, y_label: &str, y_max: f64) {
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>
"##,
        WIDTH / 2.0,
        escape(title),
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        HEIGHT - 12.0,
        escape(x_label),
        TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
        TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
        escape(y_label),
    );
    for t in ticks(0.0, y_max) {
        let y = y_pos(t, y_max);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            label(t)
        );
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="#333"/><line x1="{LEFT}" y1="{b}" x2="{}" y2="{b}" stroke="#333"/>"##,
        WIDTH - RIGHT,
        b = HEIGHT - BOTTOM,
    );
}

fn y_pos(v: f64, y_max: f64) -> f64 {
    HEIGHT - BOTTOM - v / y_max.max(f64::EPSILON) * (HEIGHT - TOP - BOTTOM)
}

/// The legend, in the top left corner of the plot area, or the top right.
fn legend(svg: &mut String, entries: &[(&str, &str, bool)], right: bool) {
    let box_w = 160.0;
    let x0 = if right {
        WIDTH - RIGHT - box_w - 8.0
    } else {
        LEFT + 8.0
    };
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{}" width="{box_w}" height="{}" fill="#ffffff" fill-opacity="0.85"/>"##,
        TOP + 2.0,
        entries.len() as f64 * 18.0 + 8.0
    );
    for (i, (name, color, dashed)) in entries.iter().enumerate() {
        let x = x0 + 4.0;
        let y = TOP + 12.0 + i as f64 * 18.0;
        let dash = if *dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="3"{dash}/><text x="{}" y="{}">{}</text>"#,
            x + 24.0,
            x + 30.0,
            y + 4.0,
            escape(name)
        );
    }
}

pub fn line_chart(chart: &LineChart<'_>) -> String {
    let mut svg = String::new();
    let x_min = chart.x_min;
    let x_max = if chart.x_max > x_min {
        chart.x_max
    } else {
        x_min + 1.0
    };
    let y_max = if chart.y_max > 0.0 { chart.y_max } else { 1.0 };
    frame(&mut svg, chart.title, chart.x_label, chart.y_label, y_max);
    if let Some(note) = chart.note {
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#d62728">{}</text>"##,
            WIDTH / 2.0,
            TOP - 2.0,
            escape(note)
        );
    }
    let x_pos = |v: f64| LEFT + (v - x_min) / (x_max - x_min) * (WIDTH - LEFT - RIGHT);
    let x_ticks = chart.x_ticks.clone().unwrap_or_else(|| ticks(x_min, x_max));
    for t in x_ticks {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x_pos(t),
            HEIGHT - BOTTOM + 16.0,
            label(t)
        );
    }
    if let Some((x, text)) = chart.x_marker {
        let px = x_pos(x);
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{}" stroke="#d62728" stroke-dasharray="4 4"/><text x="{:.1}" y="{}" text-anchor="end" fill="#d62728">{}</text>"##,
            HEIGHT - BOTTOM,
            px - 6.0,
            HEIGHT - BOTTOM - 8.0,
            escape(text),
        );
    }
    for s in &chart.series {
        let points: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", x_pos(*x), y_pos(*y, y_max)))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="2.5"{dash} points="{}"/>"#,
            s.color,
            points.join(" ")
        );
        for (x, low, high) in &s.ranges {
            let px = x_pos(*x);
            let _ = writeln!(
                svg,
                r#"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="{}" stroke-width="1.5"/>"#,
                y_pos(*low, y_max),
                y_pos(*high, y_max),
                s.color
            );
        }
        if s.points.len() <= 32 {
            for (x, y) in &s.points {
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"/>"#,
                    x_pos(*x),
                    y_pos(*y, y_max),
                    s.color
                );
            }
        }
    }
    let entries: Vec<_> = chart
        .series
        .iter()
        .map(|s| (s.name, s.color, s.dashed))
        .collect();
    legend(&mut svg, &entries, false);
    svg.push_str("</svg>\n");
    svg
}

pub fn bar_chart(chart: &BarChart<'_>) -> String {
    let mut svg = String::new();
    let y_max = chart
        .series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .fold(1.0, f64::max)
        * 1.3;
    frame(&mut svg, chart.title, "", chart.y_label, y_max);
    let groups = chart.labels.len().max(1) as f64;
    let group_w = (WIDTH - LEFT - RIGHT) / groups;
    let bar_w = group_w * 0.8 / chart.series.len().max(1) as f64;
    for (g, name) in chart.labels.iter().enumerate() {
        let gx = LEFT + g as f64 * group_w;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            gx + group_w / 2.0,
            HEIGHT - BOTTOM + 16.0,
            escape(name)
        );
        for (s, (_, color, values)) in chart.series.iter().enumerate() {
            let v = values.get(g).copied().unwrap_or(0.0);
            let x = gx + group_w * 0.1 + s as f64 * bar_w;
            let y = y_pos(v, y_max);
            let _ = writeln!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                bar_w - 2.0,
                HEIGHT - BOTTOM - y,
                x + bar_w / 2.0,
                y - 3.0,
                label(v)
            );
        }
    }
    let entries: Vec<_> = chart
        .series
        .iter()
        .map(|(name, color, _)| (*name, *color, false))
        .collect();
    legend(&mut svg, &entries, true);
    svg.push_str("</svg>\n");
    svg
}
