"""Files built to hurt: the full-size decompression bombs and lying headers behind the README's
Limits table (issue 38). tests/it/limits.rs builds scaled-down versions of each in Rust.

Usage (any Python with numpy, Pillow and pydicom, e.g. the project's venv):
    python scripts/bombs.py OUT [xlsx dcm native jpeg]      # default: all (about 15 s)
    /usr/bin/time -f "%e s, %M KiB" mammolab sheets OUT/bomb.xlsx
    /usr/bin/time -f "%e s, %M KiB" mammolab dicom OUT/bomb-deflated.dcm   # and the other .dcm
"""
import io, struct, sys, zipfile, zlib
from pathlib import Path
import numpy as np
from PIL import Image
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
GIB = 1 << 30

def xlsx_bomb(path, n):
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for k, v in parts.items():
            z.writestr(k, v)
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
            f.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>')
            chunk = b"A" * (1 << 24)
            for _ in range(n // len(chunk)):
                f.write(chunk)
            f.write(b"</t></si></sst>")

def meta(ts):
    m = FileMetaDataset()
    m.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    m.MediaStorageSOPInstanceUID = "1.2.3.4"
    m.TransferSyntaxUID = ts
    b = io.BytesIO()
    pydicom.filewriter.write_file_meta_info(b, m, enforce_standard=True)
    return b"\0" * 128 + b"DICM" + b.getvalue()

def el(group, elem, vr, value):
    if vr in ("OB", "OW", "UN", "SQ", "UT"):
        return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr.encode(), len(value)) + value

def image_header(rows, cols, bits=16):
    us = lambda v: struct.pack("<H", v)
    return b"".join([
        el(0x0008, 0x0016, "UI", b"1.2.840.10008.5.1.4.1.1.1.2\0"),
        el(0x0008, 0x0018, "UI", b"1.2.3.4\0"),
        el(0x0028, 0x0002, "US", us(1)),
        el(0x0028, 0x0004, "CS", b"MONOCHROME2 "),
        el(0x0028, 0x0010, "US", us(rows)),
        el(0x0028, 0x0011, "US", us(cols)),
        el(0x0028, 0x0100, "US", us(bits)),
        el(0x0028, 0x0101, "US", us(bits)),
        el(0x0028, 0x0102, "US", us(bits - 1)),
        el(0x0028, 0x0103, "US", us(0)),
    ])

def deflated_dicom_bomb(path, rows, cols):
    n = rows * cols * 2
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    with open(path, "wb") as f:
        f.write(meta("1.2.840.10008.1.2.1.99"))
        f.write(c.compress(image_header(rows, cols) + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, n)))
        chunk = bytes(1 << 24)
        left = n
        while left:
            k = min(left, len(chunk)); f.write(c.compress(chunk[:k])); left -= k
        f.write(c.flush())

def native_lying_dicom(path, rows, cols):
    """Explicit VR LE whose header claims rows x cols and whose pixel data element claims 4 GiB - 2, in a small file."""
    with open(path, "wb") as f:
        f.write(meta(ExplicitVRLittleEndian))
        f.write(image_header(rows, cols) + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, 0xFFFFFFFE) + bytes(4096))

def encapsulated(path, ts, rows, cols, fragment, bits=8):
    item = lambda b: struct.pack("<HHI", 0xFFFE, 0xE000, len(b)) + b
    pix = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF) + item(b"") + item(fragment) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    with open(path, "wb") as f:
        f.write(meta(ts)); f.write(image_header(rows, cols, bits) + pix)

def jpeg_claiming(w, h):
    b = io.BytesIO(); Image.fromarray(np.zeros((8, 8), np.uint8)).save(b, "JPEG"); j = bytearray(b.getvalue())
    k = j.index(b"\xff\xc0")
    j[k + 5:k + 9] = struct.pack(">HH", h, w)
    return bytes(j)

def rle_lying(rows, cols):
    # header: 1 segment whose offset points far past the fragment, then a tiny segment
    hdr = struct.pack("<16I", 1, 0x7FFFFFF0, *([0] * 14))
    return hdr + bytes([0x81, 0x00]) * 8

if __name__ == "__main__":
    which = sys.argv[2:] or ["all"]
    go = lambda k: "all" in which or k in which
    if go("xlsx"): xlsx_bomb(out / "bomb.xlsx", 2 * GIB)
    if go("dcm"): deflated_dicom_bomb(out / "bomb-deflated.dcm", 16384, 32768)
    if go("native"): native_lying_dicom(out / "lying-native.dcm", 65535, 65535)
    if go("jpeg"):
        (out / "claims-65535.jpg").write_bytes(jpeg_claiming(65535, 65535))
        encapsulated(out / "jpeg-claims.dcm", "1.2.840.10008.1.2.4.50", 8, 8, jpeg_claiming(65535, 65535))
        encapsulated(out / "rle-lies.dcm", "1.2.840.10008.1.2.5", 4096, 4096, rle_lying(4096, 4096))
