//! Files built to hurt (issue 38): decompression bombs and headers that lie are refused in
//! one line, in well under a second, without allocating what they declare.
//!
//! The bombs are built here, scaled down: each inflates (or claims) 8 to 16 times the limit
//! the command runs under (`--max-mib 4`) or, for lying headers, gigabytes; every command
//! runs in a 512 MiB address space, which an allocation of what the file declares breaks.
//! Full-size bombs (a 2 MB workbook inflating to 2 GiB, a 1 MB DICOM inflating to 1 GiB)
//! behave the same; their before/after figures are in the README's "Limits" section.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use mammolab::ingest::dicom;
use mammolab::ingest::sheets::{read_sheet, SheetOptions};

/// The address space each command below runs in: a refused bomb must not get near it, and
/// an allocation of what the bomb declares fails inside it.
const ADDRESS_SPACE: u64 = 512 << 20;

/// Runs the CLI in [`ADDRESS_SPACE`]; returns its exit code and its stderr.
fn run_bounded(args: &[&str]) -> (i32, String) {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(env!("CARGO_BIN_EXE_mammolab"));
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; the closure allocates nothing.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: ADDRESS_SPACE as libc::rlim_t,
                rlim_max: ADDRESS_SPACE as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one error line of a refused file: exit code 1, one line naming `file` and `needle`,
/// within [`ADDRESS_SPACE`]. (Peak RSS cannot be asked of a child here: Linux carries the
/// parent's high-water mark, this whole test process's, into a spawned child's `ru_maxrss`.)
fn assert_refused(args: &[&str], file: &Path, needle: &str) {
    let (code, stderr) = run_bounded(args);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(stderr.contains(name) && stderr.contains(needle), "{stderr}");
}

fn deflate(data: impl FnOnce(&mut dyn Write)) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    data(&mut e);
    e.finish().unwrap()
}

/// A minimal .xlsx whose shared-strings part is one cell of `n` bytes.
fn xlsx_bomb(path: &Path, n: usize) {
    xlsx(
        path,
        r#"<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>"#,
        n,
    );
}

/// A minimal .xlsx: one sheet whose `<worksheet>` holds `sheet`, and a shared-strings part
/// that is one cell of `n` bytes.
fn xlsx(path: &Path, sheet: &str, n: usize) {
    let sheet = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{sheet}</worksheet>"#
    );
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#,
        ),
        ("xl/worksheets/sheet1.xml", sheet.as_str()),
    ];
    for (name, text) in parts {
        z.start_file(name, o).unwrap();
        z.write_all(text.as_bytes()).unwrap();
    }
    z.start_file("xl/sharedStrings.xml", o.large_file(true))
        .unwrap();
    z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>"#)
        .unwrap();
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..n >> 20 {
        z.write_all(&chunk).unwrap();
    }
    z.write_all(b"</t></si></sst>").unwrap();
    z.finish().unwrap();
}

/// One explicit-VR element, little endian (value padded to even length by the caller).
fn el(group: u16, element: u16, vr: &str, value: &[u8]) -> Vec<u8> {
    if ["OB", "OW", "SQ", "UN", "UT"].contains(&vr) {
        let mut b = long_header(group, element, vr, value.len() as u32);
        b.extend(value);
        return b;
    }
    let mut b = Vec::new();
    b.extend(group.to_le_bytes());
    b.extend(element.to_le_bytes());
    b.extend(vr.as_bytes());
    b.extend((value.len() as u16).to_le_bytes());
    b.extend(value);
    b
}

/// The 12-byte header of an explicit-VR element with a 4-byte length (OB, OW, SQ, UN, UT),
/// little endian, declaring `len` (`u32::MAX`: undefined) whatever follows it.
fn long_header(group: u16, element: u16, vr: &str, len: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(group.to_le_bytes());
    b.extend(element.to_le_bytes());
    b.extend(vr.as_bytes());
    b.extend([0, 0]);
    b.extend(len.to_le_bytes());
    b
}

/// The 8-byte header of a sequence item or pixel-data fragment declaring `len`.
fn item_header(len: u32) -> Vec<u8> {
    let mut b = vec![0xFE, 0xFF, 0x00, 0xE0];
    b.extend(len.to_le_bytes());
    b
}

/// Preamble, `DICM` and a file meta group naming `transfer_syntax` (an even-length UID).
fn preamble_and_meta(transfer_syntax: &str) -> Vec<u8> {
    let uid = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        if v.len() % 2 == 1 {
            v.push(0);
        }
        v
    };
    let body = [
        el(0x0002, 0x0001, "OB", &[0, 1]),
        el(0x0002, 0x0002, "UI", &uid("1.2.840.10008.5.1.4.1.1.1.2")),
        el(0x0002, 0x0003, "UI", &uid("1.2.3.4")),
        el(0x0002, 0x0010, "UI", &uid(transfer_syntax)),
        el(0x0002, 0x0012, "UI", &uid("1.2.3.5")),
    ]
    .concat();
    let mut out = vec![0u8; 128];
    out.extend(b"DICM");
    out.extend(el(0x0002, 0x0000, "UL", &(body.len() as u32).to_le_bytes()));
    out.extend(body);
    out
}

/// An image header: SOP class and instance, one grey sample of `bits`, `rows` x `cols`.
fn image_header(rows: u16, cols: u16, bits: u16) -> Vec<u8> {
    [
        el(0x0008, 0x0016, "UI", b"1.2.840.10008.5.1.4.1.1.1.2\0"),
        el(0x0008, 0x0018, "UI", b"1.2.3.4\0"),
        el(0x0028, 0x0002, "US", &1u16.to_le_bytes()),
        el(0x0028, 0x0004, "CS", b"MONOCHROME2 "),
        el(0x0028, 0x0010, "US", &rows.to_le_bytes()),
        el(0x0028, 0x0011, "US", &cols.to_le_bytes()),
        el(0x0028, 0x0100, "US", &bits.to_le_bytes()),
        el(0x0028, 0x0101, "US", &bits.to_le_bytes()),
        el(0x0028, 0x0102, "US", &(bits - 1).to_le_bytes()),
        el(0x0028, 0x0103, "US", &0u16.to_le_bytes()),
    ]
    .concat()
}

/// Encapsulated pixel data: an empty basic offset table, then `fragment`.
fn encapsulated(fragment: &[u8]) -> Vec<u8> {
    let mut b = long_header(0x7FE0, 0x0010, "OB", u32::MAX);
    for item in [&[][..], fragment] {
        b.extend(item_header(item.len() as u32));
        b.extend(item);
    }
    b.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    b
}

/// An 8 x 8 baseline JPEG whose frame header says `w` x `h`.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut jpg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpg)
        .encode(&[0u8; 64], 8, 8, image::ExtendedColorType::L8)
        .unwrap();
    let k = jpg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpg[k + 5..k + 7].copy_from_slice(&h.to_be_bytes());
    jpg[k + 7..k + 9].copy_from_slice(&w.to_be_bytes());
    jpg
}

#[test]
fn a_workbook_part_that_inflates_past_the_limit_is_refused_from_its_declared_size() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.xlsx");
    xlsx_bomb(&bomb, 64 << 20);
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let b = bomb.to_str().unwrap();
    assert_refused(
        &["sheets", "--max-mib", "4", b],
        &bomb,
        "part xl/sharedStrings.xml inflated: 64.0 MiB, over the 4 MiB limit (--max-mib raises it)",
    );
    // The same bytes behind eight others: calamine finds the zip by its central directory
    // and read the 64 MiB part, as the check now does (it looked for the zip's first bytes
    // at the start and let this file through).
    let prefixed = dir.path().join("prefixed.xlsx");
    let mut bytes = b"JUNKJUNK".to_vec();
    bytes.extend(std::fs::read(&bomb).unwrap());
    std::fs::write(&prefixed, bytes).unwrap();
    assert_refused(
        &["sheets", "--max-mib", "4", prefixed.to_str().unwrap()],
        &prefixed,
        "part xl/sharedStrings.xml inflated: 64.0 MiB, over the 4 MiB limit",
    );
    // Raised, it is read (one 64 MiB cell; calamine and the listing need about 6 times that).
    let out = Command::new(env!("CARGO_BIN_EXE_mammolab"))
        .args(["sheets", "--max-mib", "128", b])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The listing shows the 64 MiB header cell clipped, with its length.
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(listing.len() < 1000, "{} bytes", listing.len());
    assert!(
        listing.contains("AAAA... (67108864 characters)"),
        "{listing}"
    );
}

#[test]
fn a_deflated_data_set_is_cut_off_at_the_limit_while_it_inflates() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb-deflated.dcm");
    let (rows, cols) = (4096u16, 8192u16);
    let mut file = preamble_and_meta("1.2.840.10008.1.2.1.99");
    file.extend(deflate(|w| {
        w.write_all(&image_header(rows, cols, 16)).unwrap();
        let n = rows as u32 * cols as u32 * 2;
        w.write_all(&long_header(0x7FE0, 0x0010, "OW", n)).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..n >> 20 {
            w.write_all(&zeros).unwrap();
        }
    }));
    std::fs::write(&bomb, &file).unwrap();
    assert!(file.len() < 1 << 20);
    assert_refused(
        &["dicom", "--max-mib", "4", bomb.to_str().unwrap()],
        &bomb,
        &format!(
            "element (7FE0,0010) declares 67108864 bytes, but only {} of the 4 MiB limit on the inflated data set are left (--max-mib raises it)",
            // The limit less what came before the value: the image header, the element's 12.
            (4 << 20) - image_header(rows, cols, 16).len() - 12
        ),
    );
    // A data set that hides its size (pixel data of undefined length, fragments of 1 MiB):
    // the fragment that no longer fits is refused.
    let sneaky = dir.path().join("sneaky-deflated.dcm");
    let mut file = preamble_and_meta("1.2.840.10008.1.2.1.99");
    file.extend(deflate(|w| {
        w.write_all(&image_header(64, 64, 8)).unwrap();
        w.write_all(&long_header(0x7FE0, 0x0010, "OB", u32::MAX))
            .unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..32 {
            w.write_all(&item_header(1 << 20)).unwrap();
            w.write_all(&zeros).unwrap();
        }
    }));
    std::fs::write(&sneaky, &file).unwrap();
    assert_refused(
        &["dicom", "--max-mib", "4", sneaky.to_str().unwrap()],
        &sneaky,
        &format!(
            "element (FFFE,E000) declares 1048576 bytes, but only {} of the 4 MiB limit on the inflated data set are left",
            // Three fragments fitted, with their 8-byte item headers, and the fourth's header.
            (4 << 20) - image_header(64, 64, 8).len() - 12 - 3 * (8 + (1 << 20)) - 8
        ),
    );
}

#[test]
fn lengths_that_claim_more_than_the_file_holds_are_refused_before_allocation() {
    let dir = tempfile::tempdir().unwrap();
    // 4 KB of file whose pixel data claims 4 GiB: dicom-rs would reserve the 4 GiB first.
    let lying = dir.path().join("lying-native.dcm");
    let mut file = preamble_and_meta("1.2.840.10008.1.2.1");
    file.extend(image_header(512, 512, 16));
    file.extend(long_header(0x7FE0, 0x0010, "OW", 0xFFFF_FFFE));
    file.extend(vec![0u8; 4096]);
    std::fs::write(&lying, &file).unwrap();
    let e = dicom::read_image(&lying, 0).unwrap_err().to_string();
    assert!(
        e.contains("element (7FE0,0010) declares 4294967294 bytes, but only 4096 remain in the file: the file is cut short or its header lies"),
        "{e}"
    );
    // The same file without its 128-byte preamble (it starts at `DICM`, which dicom-rs reads).
    let bare = dir.path().join("lying-native-no-preamble.dcm");
    std::fs::write(&bare, &file[128..]).unwrap();
    let e = dicom::read_image(&bare, 0).unwrap_err().to_string();
    assert!(
        e.contains(
            "element (7FE0,0010) declares 4294967294 bytes, but only 4096 remain in the file"
        ),
        "{e}"
    );
    // The header alone is read, and the pixels reported cut short, as for any truncated file.
    let header = dicom::read_header(&lying).unwrap();
    assert!(header.truncated.unwrap().contains("truncated"));
    // Inside a sequence item too (the walk follows sequences, as dicom-rs does).
    let nested = dir.path().join("lying-in-sequence.dcm");
    let mut file = preamble_and_meta("1.2.840.10008.1.2.1");
    file.extend(image_header(8, 8, 8));
    // (0008,1115) Referenced Series Sequence, one item, holding a UT that claims 2 GiB.
    file.extend(long_header(0x0008, 0x1115, "SQ", u32::MAX));
    file.extend(item_header(u32::MAX));
    file.extend(long_header(0x0008, 0x0104, "UT", 0x7FFF_0000));
    std::fs::write(&nested, &file).unwrap();
    let e = dicom::read_header(&nested).unwrap_err().to_string();
    assert!(
        e.contains("element (0008,0104) declares 2147418112 bytes"),
        "{e}"
    );
}

#[test]
fn compressed_frames_whose_own_header_lies_are_refused_not_decoded() {
    let dir = tempfile::tempdir().unwrap();
    // A JPEG frame that claims 65535 x 65535 in an 8 x 8 data set: dicom-rs panicked on it
    // after allocating 5 GB.
    let jpeg = dir.path().join("jpeg-claims.dcm");
    let mut file = preamble_and_meta("1.2.840.10008.1.2.4.50");
    file.extend(image_header(8, 8, 8));
    file.extend(encapsulated(&jpeg_claiming(65535, 65535)));
    std::fs::write(&jpeg, &file).unwrap();
    assert_refused(
        &["dicom", jpeg.to_str().unwrap()],
        &jpeg,
        "fragment 0's compressed stream declares 65535 x 65535 pixels, the data set 8 x 8 (Columns x Rows): not decoded",
    );
    // The same frame honest about its size decodes.
    let honest = dir.path().join("jpeg-honest.dcm");
    let mut file = preamble_and_meta("1.2.840.10008.1.2.4.50");
    file.extend(image_header(8, 8, 8));
    file.extend(encapsulated(&jpeg_claiming(8, 8)));
    std::fs::write(&honest, &file).unwrap();
    let img = dicom::read_image(&honest, 0).unwrap();
    assert_eq!((img.info.rows, img.info.columns), (8, 8));
    // An RLE header whose segment points 2 GiB past its 80-byte fragment.
    let rle = dir.path().join("rle-lies.dcm");
    let mut fragment = [1u32, 0x7FFF_FFF0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect::<Vec<u8>>();
    fragment.resize(64, 0);
    fragment.extend([0x81, 0x00].repeat(8));
    let mut file = preamble_and_meta("1.2.840.10008.1.2.5");
    file.extend(image_header(4096, 4096, 8));
    file.extend(encapsulated(&fragment));
    std::fs::write(&rle, &file).unwrap();
    assert_refused(
        &["dicom", rle.to_str().unwrap()],
        &rle,
        "frame 0: RLE segment 0 starts at byte 2147483632, outside the 80 bytes of its fragment",
    );
    // Rows x Columns over --max-pixels: refused from the header alone.
    assert_refused(
        &["dicom", "--max-pixels", "1000000", rle.to_str().unwrap()],
        &rle,
        "one frame is 4096 x 4096 x 1 samples = 16777216, over the limit of 1000000 (--max-pixels raises it)",
    );
}

#[test]
fn a_picture_whose_header_claims_a_giant_size_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let jpg = dir.path().join("claims.jpg");
    std::fs::write(&jpg, jpeg_claiming(65535, 65535)).unwrap();
    let e = dicom::read_picture(&jpg).unwrap_err().to_string();
    assert!(
        e.contains("the picture is 65535 x 65535 x 1 samples = 4294836225, over the limit of 268435456 (--max-pixels raises it)"),
        "{e}"
    );
}

#[test]
fn a_sheet_whose_cells_span_more_than_the_limit_is_refused_before_its_grid_is_made() {
    let dir = tempfile::tempdir().unwrap();
    // Two cells, at A1 and XFD1048576 (Excel's last): calamine's grid of their box would be
    // 17 billion cells, 512 GiB.
    let corners = dir.path().join("corners.xlsx");
    xlsx(
        &corners,
        r#"<sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row></sheetData>"#,
        0,
    );
    // The sheet is refused before its grid is made; `sheets` lists it as unreadable and
    // goes on, within the 512 MiB address space.
    let refused = |file: &Path| {
        let e = read_sheet(file, "Sheet1", &SheetOptions::default()).unwrap_err();
        let (code, stderr) = run_bounded(&["sheets", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{stderr}");
        e.to_string()
    };
    let e = refused(&corners);
    assert!(
        e.contains("sheet `Sheet1` (cells A1 to XFD1048576): 1048576 x 16384 cells as a grid: 524288 MiB, over the 256 MiB limit"),
        "{e}"
    );
    // One cell, merged over the whole sheet: the grid mammolab fills would be as large.
    let merged = dir.path().join("merged.xlsx");
    xlsx(
        &merged,
        r#"<sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData><mergeCells count="1"><mergeCell ref="A1:XFD1048576"/></mergeCells>"#,
        0,
    );
    let e = refused(&merged);
    assert!(
        e.contains("sheet `Sheet1` with its merged cells: 1048576 x 16384 cells as a grid"),
        "{e}"
    );
    // A kept fuzzer input (tests/data/fuzz/sheet/, behind its format byte) as an .xls file.
    let kept_xls = |name: &str| {
        let found = crate::repo().join("tests/data/fuzz/sheet").join(name);
        let xls = dir.path().join(format!("{name}.xls"));
        std::fs::write(&xls, &std::fs::read(found).unwrap()[1..]).unwrap();
        xls
    };
    // An 8.7 KB .xls whose cells sit at row 65535 and column 65535: calamine parses it whole
    // when it opens the file and asked for 137 GB, which aborted the process.
    let xls = kept_xls("xls-cells-at-row-and-column-65535");
    assert_refused(&["sheets", xls.to_str().unwrap()], &xls, "cells as a grid");
    // A 26 KB .xls whose directory's sector chain loops: calamine follows it with no end and
    // grew to 24 GB before the kernel killed it.
    let looping = kept_xls("xls-directory-chain-loops");
    assert_refused(
        &["sheets", looping.to_str().unwrap()],
        &looping,
        "compound file: the directory chain from sector 50 loops",
    );
}

#[test]
fn a_sequence_dicom_rs_reads_otherwise_than_the_standard_is_walked_as_dicom_rs_reads_it() {
    // pydicom's UN_sequence.dcm, rebuilt: a UN element of undefined length whose item holds
    // implicit-VR elements (as the standard says UN sequences do). dicom-rs reads the item in
    // the file's explicit VR, takes the next item header for a 3.5 GiB length and reserved
    // it (3.6 GB of memory for a 700-byte file); the walk now reads it the same way.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("un-sequence.dcm");
    let mut file = preamble_and_meta("1.2.840.10008.1.2.1");
    file.extend(long_header(0x0009, 0x1010, "UN", u32::MAX));
    file.extend(item_header(u32::MAX));
    // (0008,1115) implicit VR, undefined length, then its item.
    file.extend([0x08, 0x00, 0x15, 0x11, 0xFF, 0xFF, 0xFF, 0xFF]);
    file.extend(item_header(u32::MAX));
    file.extend([0x08, 0x00, 0x50, 0x11, 0x04, 0x00, 0x00, 0x00]);
    file.extend(b"1.2\0");
    for delimiter in [0xE00D_u16, 0xE0DD, 0xE00D, 0xE0DD] {
        file.extend([0xFE, 0xFF]);
        file.extend(delimiter.to_le_bytes());
        file.extend([0, 0, 0, 0]);
    }
    std::fs::write(&path, &file).unwrap();
    assert_refused(
        &["dicom", path.to_str().unwrap()],
        &path,
        "element (0008,1115) declares 3758161918 bytes",
    );
}

#[test]
fn the_walk_reads_the_meta_group_and_fffe_elements_as_dicom_rs_does() {
    // Found by fuzzing (tests/data/fuzz/dicom/): two ways the walk lost step with dicom-rs,
    // which then reserved 2.4-4.2 GB for a 5-60 KB file.
    let dir = tempfile::tempdir().unwrap();
    // dicom-rs reads the file meta group to the length (0002,0000) gives, whatever the groups
    // of the elements inside it; the walk stopped at the first element of another group and
    // looked for the deflated data set there.
    let meta = dir.path().join("meta-holds-another-group.dcm");
    let mut file = preamble_and_meta("1.2.840.10008.1.2.1.99");
    let stray = el(0xE802, 0x0016, "AE", b"CLUNIE1 ");
    let group_length = u32::from_le_bytes(file[140..144].try_into().unwrap());
    file[140..144].copy_from_slice(&(group_length + stray.len() as u32).to_le_bytes());
    file.extend(stray);
    file.extend(deflate(|w| {
        w.write_all(&long_header(0x9090, 0x9090, "UN", 0x9090_9090))
            .unwrap();
        w.write_all(&[0x90; 4096]).unwrap();
    }));
    std::fs::write(&meta, &file).unwrap();
    assert_refused(
        &["dicom", meta.to_str().unwrap()],
        &meta,
        "element (9090,9090) declares 2425393296 bytes",
    );
    // Where an element is expected, dicom-rs reads an (FFFE,xxxx) tag other than an item
    // delimiter as an element (a 4-byte length, no VR); the walk gave up on it.
    let fffe = dir.path().join("fffe-element.dcm");
    let mut file = preamble_and_meta("1.2.840.10008.1.2.1");
    file.extend(image_header(8, 8, 8));
    file.extend(long_header(0x0008, 0x1115, "SQ", u32::MAX));
    file.extend(item_header(u32::MAX));
    file.extend([0xFE, 0xFF, 0x0D, 0x00]);
    file.extend(0xFFA6_FFC4_u32.to_le_bytes());
    file.extend([0u8; 4096]);
    std::fs::write(&fffe, &file).unwrap();
    assert_refused(
        &["dicom", fffe.to_str().unwrap()],
        &fffe,
        "element (FFFE,000D) declares 4289134532 bytes, but only 4096 remain in the file",
    );
    // An item delimiter outside any item is skipped, as dicom-rs skips it: the element after
    // it is still checked.
    let stray_delimiter = dir.path().join("stray-delimiter.dcm");
    let mut file = preamble_and_meta("1.2.840.10008.1.2.1");
    file.extend(image_header(8, 8, 8));
    file.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
    file.extend(long_header(0x7FE0, 0x0010, "OW", 0x7FFF_0000));
    file.extend([0u8; 64]);
    std::fs::write(&stray_delimiter, &file).unwrap();
    assert_refused(
        &["dicom", stray_delimiter.to_str().unwrap()],
        &stray_delimiter,
        "element (7FE0,0010) declares 2147418112 bytes, but only 64 remain in the file",
    );
}

#[test]
fn an_odd_length_number_value_is_read_as_dicom_rs_reads_it() {
    // Found by fuzzing (tests/data/fuzz/dicom/odd-length-ss-values): dicom-rs reads a US, SS,
    // UL, FD... value as whole numbers only, so an odd-length US leaves its last byte in the
    // stream and the next tag starts there; the walk skipped the whole length and lost step
    // (a 12.5 KB deflated file then made dicom-rs reserve 1.4 GB).
    let dir = tempfile::tempdir().unwrap();
    for (transfer_syntax, rows, claim) in [
        // (0028,0010) Rows, US, 3 bytes; then, one byte early, (0009,0010) UN of 2 GiB.
        (
            "1.2.840.10008.1.2.1",
            [0x28, 0x00, 0x10, 0x00, b'U', b'S', 3, 0, 8, 0],
            vec![
                0x09, 0x00, 0x10, 0x00, b'U', b'N', 0, 0, 0xFF, 0xFF, 0xFF, 0x7F,
            ],
        ),
        // The same in implicit VR: Rows is US by the dictionary.
        (
            "1.2.840.10008.1.2",
            [0x28, 0x00, 0x10, 0x00, 3, 0, 0, 0, 8, 0],
            vec![0x09, 0x00, 0x10, 0x00, 0xFF, 0xFF, 0xFF, 0x7F],
        ),
    ] {
        let path = dir.path().join(format!("odd-us-{transfer_syntax}.dcm"));
        let mut file = preamble_and_meta(transfer_syntax);
        file.extend(rows);
        file.extend(claim);
        file.extend([0u8; 64]);
        std::fs::write(&path, &file).unwrap();
        assert_refused(
            &["dicom", path.to_str().unwrap()],
            &path,
            "element (0009,0010) declares 2147483647 bytes, but only 64 remain in the file",
        );
    }
}

/// A minimal .ods (OpenDocument spreadsheet) whose `<office:spreadsheet>` holds `tables`.
pub(crate) fn ods(path: &Path, tables: &str) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"#
    );
    let parts = [
        (
            "mimetype",
            "application/vnd.oasis.opendocument.spreadsheet",
            stored,
        ),
        (
            "META-INF/manifest.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#,
            deflated,
        ),
        ("content.xml", content.as_str(), deflated),
    ];
    for (name, text, o) in parts {
        z.start_file(name, o).unwrap();
        z.write_all(text.as_bytes()).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn an_ods_whose_repeats_multiply_past_the_limit_is_refused_before_calamine_parses_it() {
    let dir = tempfile::tempdir().unwrap();
    let cell =
        |v: u32| format!(r#"<table:table-cell office:value-type="float" office:value="{v}"/>"#);
    let text = |t: &str| {
        format!(
            r#"<table:table-cell office:value-type="string"><text:p>{t}</text:p></table:table-cell>"#
        )
    };
    let row = |cells: &str| format!("<table:table-row>{cells}</table:table-row>");
    let table = |rows: &str| format!(r#"<table:table table:name="Sheet1">{rows}</table:table>"#);
    // An honest sheet reads as before: the scan counts 6 cells.
    let honest = dir.path().join("honest.ods");
    let rows = [
        row(&(text("id") + &text("age"))),
        row(&(text("P1") + &cell(61))),
        row(&(text("P2") + &cell(47))),
    ];
    ods(&honest, &table(&rows.concat()));
    let sheet = read_sheet(&honest, "Sheet1", &SheetOptions::default()).unwrap();
    let frame = sheet.to_dataframe().unwrap();
    assert_eq!(frame.shape(), (2, 2), "{frame}");
    // 3,000 rows of one number repeated across the row's 16,384 columns: a 9 KB file that
    // calamine holds as 49 million cells (2.7 GB) before it builds the grid.
    let wide = dir.path().join("wide.ods");
    let repeated = r#"<table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="16384"/>"#;
    ods(&wide, &table(&row(repeated).repeat(3000)));
    assert!(std::fs::metadata(&wide).unwrap().len() < 20_000);
    assert_refused(
        &["sheets", wide.to_str().unwrap()],
        &wide,
        "content.xml's repeated rows and cells: 49152000 cells as read",
    );
    // One row repeated a million times under a row 16,384 cells wide: calamine's grid stops
    // at 100 million cells, 5.6 GB with their formula slots.
    let tall = dir.path().join("tall.ods");
    let gap = r#"<table:table-cell table:number-columns-repeated="16382"/>"#;
    let rows = row(&(cell(1) + gap + &cell(2)))
        + &format!(
            r#"<table:table-row table:number-rows-repeated="1000000">{}</table:table-row>"#,
            cell(3)
        );
    ods(&tall, &table(&rows));
    assert_refused(
        &["sheets", tall.to_str().unwrap()],
        &tall,
        "100000000 as grids",
    );
    // One cell of a billion spaces (`<text:s text:c="N"/>`).
    let spaces = dir.path().join("spaces.ods");
    ods(
        &spaces,
        &table(&row(&text(r#"<text:s text:c="1000000000"/>"#))),
    );
    assert_refused(
        &["sheets", spaces.to_str().unwrap()],
        &spaces,
        "1000000001 bytes of text",
    );
}
