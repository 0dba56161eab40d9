//! The JSON renderer: the `Report` model as one JSON object (SPEC §7).

use super::Report;
use std::io::Write;

/// Write the report as pretty JSON followed by a newline.
pub fn render(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, report)?;
    writeln!(w)
}
