//! `Trace::write_html`: one self-contained HTML file (inline SVG and CSS, no
//! script, nothing fetched from the network) drawing the same timeline as
//! the Chrome JSON.
//!
//! One lane per worker, then the blocking pool, the driver and other
//! threads. Polls are blocks coloured by task (the same task keeps its
//! colour), parks are shaded, driver turns and blocking jobs are grey
//! blocks; spawns (faint green), wakes (blue) and steals (red) are arrows to the poll they led
//! to; long polls are red marks on their worker's lane, tasks cancelled
//! off the workers dark ticks on their track. Hovering an element shows its
//! details (`<title>`). The picture is 1 px per 10 µs (between 1,200 and
//! 40,000 px wide); scroll sideways to pan.
//!
//! A small inline script (the page works without it) zooms the time axis:
//! the buttons, ctrl + wheel, and `#fit` in the address to start fitted to
//! the window. When it has run it writes what was drawn into
//! `<p id="rendered" data-lanes data-polls data-arrows>`, which
//! `scripts/trace_browser_check.sh` reads back from headless Chromium.

use super::chrome::PollIndex;
use super::event::{Event, Kind, TaskEnd};
use super::{PollSpan, Trace};
use std::collections::HashMap;
use std::io::{self, Write};

const LABEL_W: f64 = 110.0;
const LANE_H: f64 = 26.0;
const TOP: f64 = 24.0;

struct Scale {
    end: u64,
    width: f64,
}

impl Scale {
    fn x(&self, ns: u64) -> f64 {
        LABEL_W + ns.min(self.end) as f64 / self.end.max(1) as f64 * self.width
    }
}

fn lane_y(lane: usize) -> f64 {
    TOP + lane as f64 * LANE_H
}

/// A task's colour: the golden angle spreads consecutive ids apart.
fn hue(task: u64) -> u64 {
    (task.wrapping_mul(137)) % 360
}

pub(super) fn write(trace: &Trace, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let n = trace.workers.len();
    let lanes = n + 3;
    let (blocking, driver, other) = (n, n + 1, n + 2);
    let scale = Scale {
        end: trace.end,
        width: (trace.end as f64 / 10_000.0).clamp(1_200.0, 40_000.0),
    };
    let width = LABEL_W + scale.width + 20.0;
    let height = TOP + lanes as f64 * LANE_H + 10.0;

    writeln!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>weft trace</title>\n<style>\n\
         body{{font:13px sans-serif;margin:12px}} pre{{font:12px monospace}}\n\
         .scroll{{overflow-x:auto;border:1px solid #ccc}}\n\
         text{{font:11px sans-serif}} .park{{fill:#000;opacity:.12}}\n\
         .turn,.job{{fill:#888}} .wake{{stroke:#36c;stroke-opacity:.35}} .spawn{{stroke:#393;stroke-opacity:.15}} .steal{{stroke:#d22}}\n\
         .longpoll{{fill:#d22}} .end{{stroke:#333;stroke-width:2}} .lanepad{{fill:#fff;opacity:.85}}\n\
         .bar{{margin:6px 0}} .bar button{{min-width:2.2em}} #rendered{{color:#888}}\n\
         </style></head><body>\n<h3>weft trace</h3>\n<pre>{}</pre>",
        trace.summary()
    )?;
    writeln!(
        out,
        "<div class=\"bar\">zoom <button id=\"zin\">+</button> <button id=\"zout\">&minus;</button> \
         <button id=\"zfit\">fit</button> <button id=\"z1\">1:1</button> \
         <span style=\"color:#888\">(or ctrl + wheel; scroll sideways to pan)</span></div>\n\
         <div class=\"scroll\" id=\"scroll\"><svg id=\"timeline\" width=\"{width:.0}\" height=\"{height:.0}\" data-label=\"{LABEL_W}\">\n\
         <defs><marker id=\"ah\" markerWidth=\"6\" markerHeight=\"6\" refX=\"5\" refY=\"3\" orient=\"auto\">\
         <path d=\"M0,0 L6,3 L0,6 z\" fill=\"#555\"/></marker></defs>"
    )?;
    // Lane labels and separators.
    let names: Vec<String> = (0..n)
        .map(|i| format!("worker {i}"))
        .chain(["blocking pool", "driver", "other threads"].map(String::from))
        .collect();
    for (i, name) in names.iter().enumerate() {
        let y = lane_y(i);
        writeln!(
            out,
            "<text class=\"lane\" x=\"4\" y=\"{:.1}\">{name}</text><line x1=\"0\" x2=\"{width:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>",
            y + LANE_H * 0.65
        )?;
    }
    // A time axis: ten ticks.
    for i in 0..=10u64 {
        let ns = trace.end / 10 * i;
        let anchor = match i {
            0 => "start",
            10 => "end",
            _ => "middle",
        };
        writeln!(
            out,
            "<text class=\"tick\" text-anchor=\"{anchor}\" x=\"{:.1}\" y=\"14\">{:.3} ms</text>",
            scale.x(ns),
            ns as f64 / 1e6
        )?;
    }

    // Parks (under the polls).
    for (lane, events) in trace.workers.iter().enumerate() {
        let mut parked: Option<u64> = None;
        for e in events {
            match e.kind {
                Kind::Park => parked = Some(e.ts),
                Kind::Unpark => {
                    if let Some(start) = parked.take() {
                        block(
                            &mut out,
                            &scale,
                            lane,
                            start,
                            e.ts,
                            "class=\"park\"",
                            "parked",
                        )?;
                    }
                }
                _ => {}
            }
        }
        if let Some(start) = parked {
            block(
                &mut out,
                &scale,
                lane,
                start,
                trace.end,
                "class=\"park\"",
                "parked",
            )?;
        }
    }
    let polls = trace.polls();
    for p in &polls {
        let style = format!("class=\"poll\" fill=\"hsl({},65%,50%)\"", hue(p.task));
        let title = format!(
            "task {} on worker {}: {:.3} µs",
            p.task,
            p.lane,
            (p.end - p.start) as f64 / 1e3
        );
        block(&mut out, &scale, p.lane, p.start, p.end, &style, &title)?;
    }
    spans(
        &mut out,
        &scale,
        driver,
        &trace.driver,
        Kind::DriverStart,
        Kind::DriverEnd,
        "turn",
    )?;
    let mut jobs: HashMap<u64, u64> = HashMap::new();
    for e in &trace.blocking {
        match e.kind {
            Kind::BlockingStart => {
                jobs.insert(e.task, e.ts);
            }
            Kind::BlockingEnd => {
                if let Some(start) = jobs.remove(&e.task) {
                    let title = format!("blocking job {}", e.task);
                    block(
                        &mut out,
                        &scale,
                        blocking,
                        start,
                        e.ts,
                        "class=\"job\"",
                        &title,
                    )?;
                }
            }
            _ => {}
        }
    }

    // Arrows: wakes and spawns to the poll they led to, steals from the
    // victim to the thief's next poll.
    let index = PollIndex::new(&polls, n);
    let tracks = trace
        .workers
        .iter()
        .enumerate()
        .flat_map(|(lane, events)| events.iter().map(move |e| (lane, e)))
        .chain(trace.blocking.iter().map(|e| (blocking, e)))
        .chain(trace.driver.iter().map(|e| (driver, e)))
        .chain(trace.other.iter().map(|e| (other, e)));
    for (lane, e) in tracks {
        match e.kind {
            Kind::Wake | Kind::Spawn => {
                if let Some(p) = index.next_poll_of(e.task, e.ts) {
                    let class = if e.kind == Kind::Spawn {
                        "spawn"
                    } else {
                        "wake"
                    };
                    arrow(&mut out, &scale, class, lane, e, p)?;
                }
            }
            Kind::Steal if (e.a as usize) < n => {
                if let Some(p) = index.next_poll_on(lane, e.ts) {
                    arrow(&mut out, &scale, "steal", e.a as usize, e, p)?;
                }
            }
            _ => {}
        }
    }

    // Long polls (seen by the monitor while they ran) on their worker's
    // lane; tasks cancelled off the workers on their track.
    let marks = trace
        .other
        .iter()
        .map(|e| (other, e))
        .chain(trace.blocking.iter().map(|e| (blocking, e)));
    for (track, e) in marks {
        match e.kind {
            Kind::LongPoll if (e.a as usize) < n => {
                let (x, y) = (scale.x(e.ts), lane_y(e.a as usize));
                writeln!(
                    out,
                    "<path class=\"longpoll\" d=\"M{x:.2},{:.1} l5,-9 h-10 z\" data-x=\"{x:.2}\">\
                     <title>long poll: task {} still running at {:.3} ms</title></path>",
                    y + 9.0,
                    e.task,
                    e.ts as f64 / 1e6
                )?;
            }
            Kind::TaskEnd => {
                let (x, y) = (scale.x(e.ts), lane_y(track));
                writeln!(
                    out,
                    "<line class=\"end\" x1=\"{x:.2}\" x2=\"{x:.2}\" y1=\"{:.1}\" y2=\"{:.1}\">\
                     <title>task {} {}</title></line>",
                    y + 4.0,
                    y + LANE_H - 4.0,
                    e.task,
                    TaskEnd::name(e.flag)
                )?;
            }
            _ => {}
        }
    }
    writeln!(
        out,
        "<rect class=\"lanepad\" x=\"0\" y=\"{TOP}\" width=\"{LABEL_W}\" height=\"{:.0}\"/>\n\
         </svg></div>\n<p id=\"rendered\">(the zoom script did not run)</p>\n<script>{ZOOM_JS}</script>\n</body></html>",
        height - TOP
    )?;
    out.flush()
}

/// Zoom for the time axis: rescales every x coordinate right of the labels
/// (`x' = L + (x - L) * z`), keeping the point under the cursor in place;
/// then reports what was drawn into `#rendered`.
const ZOOM_JS: &str = r#"
(function () {
  var svg = document.getElementById('timeline'), box = document.getElementById('scroll');
  var L = +svg.dataset.label, W = +svg.getAttribute('width'), z = 1;
  var attrs = ['x', 'x1', 'x2', 'width'];
  var els = [].slice.call(svg.querySelectorAll('rect:not(.lanepad), line, text.tick, path.longpoll'));
  // The lane labels stay in view while the timeline pans: drawn last (over
  // the blocks), on a light pad, at the scrolled-to left edge.
  var pad = svg.querySelector('rect.lanepad');
  var labels = [].slice.call(svg.querySelectorAll('text.lane'));
  svg.appendChild(pad);
  labels.forEach(function (t) { svg.appendChild(t); });
  function pin() {
    var x = box.scrollLeft;
    pad.setAttribute('x', x);
    labels.forEach(function (t) { t.setAttribute('x', x + 4); });
  }
  box.addEventListener('scroll', pin);
  els.forEach(function (e) {
    attrs.forEach(function (a) { if (e.hasAttribute(a)) e.dataset[a] = e.getAttribute(a); });
  });
  function zoom(to, at) {
    to = Math.max(1e-4, Math.min(to, 400));
    var t = (box.scrollLeft + at - L) / z;
    z = to;
    svg.setAttribute('width', (L + (W - L) * z + 20).toFixed(0));
    els.forEach(function (e) {
      attrs.forEach(function (a) {
        var v = e.dataset[a];
        if (v === undefined) return;
        v = +v;
        e.setAttribute(a, (a === 'width' ? Math.max(v * z, 0.5) : L + (v - L) * z).toFixed(2));
      });
      if (e.dataset.x !== undefined && e.tagName === 'path') {
        e.setAttribute('transform', 'translate(' + ((+e.dataset.x - L) * (z - 1)).toFixed(2) + ',0)');
      }
    });
    box.scrollLeft = Math.max(0, L + t * z - at);
    pin();
  }
  function fit() { zoom((box.clientWidth - L - 20) / (W - L - 20), 0); }
  document.getElementById('zin').onclick = function () { zoom(z * 2, box.clientWidth / 2); };
  document.getElementById('zout').onclick = function () { zoom(z / 2, box.clientWidth / 2); };
  document.getElementById('zfit').onclick = fit;
  document.getElementById('z1').onclick = function () { zoom(1, 0); };
  box.addEventListener('wheel', function (ev) {
    if (!ev.ctrlKey && !ev.metaKey) return;
    ev.preventDefault();
    var r = box.getBoundingClientRect();
    zoom(ev.deltaY < 0 ? z * 1.25 : z / 1.25, ev.clientX - r.left);
  }, { passive: false });
  if (location.hash === '#fit') fit();
  var lanes = labels.length;
  var polls = svg.querySelectorAll('rect.poll').length;
  var arrows = svg.querySelectorAll('line.wake, line.spawn, line.steal').length;
  var p = document.getElementById('rendered');
  p.dataset.lanes = lanes; p.dataset.polls = polls; p.dataset.arrows = arrows;
  p.textContent = 'drawn: ' + lanes + ' lanes, ' + polls + ' polls, ' + arrows + ' arrows';
  if (location.hash === '#pan') {
    // A self-check for scripts/trace_browser_check.sh: zoom in, pan to the
    // end, and report whether the lane labels came along.
    zoom(4, 0);
    box.scrollLeft = box.scrollWidth;
    pin();
    var x = +labels[0].getAttribute('x');
    p.dataset.pan = box.scrollLeft > 0 && x === box.scrollLeft + 4 ? 'pinned' : 'left behind at ' + x;
  }
})();
"#;

fn block(
    out: &mut impl Write,
    scale: &Scale,
    lane: usize,
    start: u64,
    end: u64,
    attrs: &str,
    title: &str,
) -> io::Result<()> {
    let x = scale.x(start);
    let w = (scale.x(end) - x).max(0.5);
    writeln!(
        out,
        "<rect x=\"{x:.2}\" y=\"{:.1}\" width=\"{w:.2}\" height=\"{:.1}\" {attrs}><title>{title}</title></rect>",
        lane_y(lane) + 3.0,
        LANE_H - 6.0
    )
}

fn spans(
    out: &mut impl Write,
    scale: &Scale,
    lane: usize,
    events: &[Event],
    open: Kind,
    close: Kind,
    class: &str,
) -> io::Result<()> {
    let mut start = None;
    for e in events {
        if e.kind == open {
            start = Some(e.ts);
        } else if e.kind == close {
            if let Some(s) = start.take() {
                block(
                    out,
                    scale,
                    lane,
                    s,
                    e.ts,
                    &format!("class=\"{class}\""),
                    class,
                )?;
            }
        }
    }
    Ok(())
}

fn arrow(
    out: &mut impl Write,
    scale: &Scale,
    class: &str,
    from: usize,
    e: &Event,
    to: &PollSpan,
) -> io::Result<()> {
    writeln!(
        out,
        "<line class=\"{class}\" x1=\"{:.2}\" y1=\"{:.1}\" x2=\"{:.2}\" y2=\"{:.1}\" marker-end=\"url(#ah)\"/>",
        scale.x(e.ts),
        lane_y(from) + LANE_H / 2.0,
        scale.x(to.start),
        lane_y(to.lane) + LANE_H / 2.0
    )
}
