//! Terminal output: colours (only on a terminal), a progress line that the
//! next real line overwrites, bars, and number formatting.
//!
//! Every line the demo prints fits 80 columns; `tests/demo.rs` checks it.

use std::io::{self, Write};
use std::time::Duration;

/// Width of the terminal the output is laid out for.
pub const COLUMNS: usize = 80;

/// Where the demo writes, and how.
pub struct Ui<'a> {
    out: &'a mut dyn Write,
    /// ANSI colours and block characters (stdout is a terminal).
    color: bool,
    /// A `\r`-rewritten progress line (stdout is a terminal).
    progress: bool,
    progress_shown: bool,
}

impl<'a> Ui<'a> {
    /// `terminal`: whether `out` is an interactive terminal; it turns on
    /// colours and the progress line.
    pub fn new(out: &'a mut dyn Write, terminal: bool) -> Ui<'a> {
        Ui {
            out,
            color: terminal,
            progress: terminal,
            progress_shown: false,
        }
    }

    /// Prints one line (after wiping the progress line, if any).
    pub fn line(&mut self, text: impl AsRef<str>) -> io::Result<()> {
        self.clear_progress()?;
        writeln!(self.out, "{}", text.as_ref())
    }

    /// Prints an empty line.
    pub fn blank(&mut self) -> io::Result<()> {
        self.line("")
    }

    /// Shows `text` on the progress line (terminals only).
    pub fn progress(&mut self, text: impl AsRef<str>) -> io::Result<()> {
        if !self.progress {
            return Ok(());
        }
        let text: String = text.as_ref().chars().take(COLUMNS - 1).collect();
        write!(self.out, "\r{}\x1b[K", self.dim(&text))?;
        self.progress_shown = true;
        self.out.flush()
    }

    fn clear_progress(&mut self) -> io::Result<()> {
        if self.progress_shown {
            write!(self.out, "\r\x1b[K")?;
            self.progress_shown = false;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.clear_progress()?;
        self.out.flush()
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// A section header.
    pub fn header(&self, text: &str) -> String {
        self.paint("1;36", text)
    }

    /// A measured number.
    pub fn num(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// A note or explanation.
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Something good (a speedup, a bar).
    pub fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// A warning.
    pub fn bad(&self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// A bar of `filled` cells followed by `empty` cells of "room left".
    pub fn bar(&self, filled: usize, empty: usize) -> String {
        let (full, room) = if self.color {
            ('█', '░')
        } else {
            ('#', '.')
        };
        let filled: String = std::iter::repeat_n(full, filled).collect();
        let empty: String = std::iter::repeat_n(room, empty).collect();
        format!("{}{}", self.good(&filled), self.dim(&empty))
    }
}

/// `text` broken into lines of at most [`COLUMNS`] characters at spaces,
/// the first line starting with `first`, the others with `rest`.
pub fn wrap(text: &str, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > COLUMNS {
            lines.push(std::mem::replace(&mut line, rest.to_string()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line);
    lines
}

/// `12345678` as `12,345,678`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration with a unit that keeps three or four significant digits.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 10.0 {
        format!("{} s", thousands(secs.round() as u64))
    } else if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 0.001 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{:.0} µs", secs * 1e6)
    }
}

/// Milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(duration(Duration::from_secs(1000)), "1,000 s");
        assert_eq!(duration(Duration::from_millis(101)), "101.0 ms");
        assert_eq!(duration(Duration::from_micros(61)), "61 µs");
    }

    #[test]
    fn wraps_at_80_columns() {
        let text = "word ".repeat(40);
        let lines = wrap(&text, "   ! ", "     ");
        assert!(lines.len() > 1);
        assert!(lines[0].starts_with("   ! word"));
        for line in &lines[1..] {
            assert!(line.starts_with("     word"), "{line:?}");
        }
        for line in &lines {
            assert!(line.chars().count() <= COLUMNS, "{line:?}");
        }
        let words: usize = lines.iter().map(|l| l.matches("word").count()).sum();
        assert_eq!(words, 40);
    }
}
