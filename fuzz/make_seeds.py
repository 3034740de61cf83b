# SPDX-License-Identifier: MIT
# Usage: python3 fuzz/make_seeds.py fuzz/corpus
# Write small synthetic seed files (no third-party content: every byte is built here from the
# format descriptions in docs/formats/ and the readers) for the file-level fuzz targets:
# mib, tia, mrc, blo, empad, ripple, msa, tiff, tvips, zspy, hdf5 (h5py-made; bytes may
# differ between h5py versions). Multi-file inputs join their parts with the split
# marker of fuzz_util.h. Deterministic: running it twice writes identical files.
import gzip
import io
import json
import zipfile
import zlib
import os
import struct
import sys

SPLIT = b"\n--tessera-fuzz-next-file--\n"


def write(out, target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


# ---- Merlin MIB ----------------------------------------------------------------------------
def mib_header(seq, width, height, ptype, depth, header_bytes=384, chips=1, layout="   1x1",
               select="01"):
    text = ("MQ1,{:06d},{:05d},{:02d},{:04d},{:04d},{},{},{},2021-04-15 15:01:38.996867,"
            "0.001000,0,0,0,2.000000E+0,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,"
            "0.000000E+0,0.000000E+0,0.000000E+0,3RX,011,511,000,175,MQ1A,"
            "2021-04-15T14:01:38.996867651Z,1000000ns,{},").format(
                seq, header_bytes, chips, width, height, ptype, layout, select, depth)
    return text.encode().ljust(header_bytes, b"\0")


def mib(frames, width, height, ptype, depth, **kw):
    item = {"U08": 1, "U16": 2, "U32": 4}.get(ptype)
    out = b""
    for f in range(frames):
        out += mib_header(f + 1, width, height, ptype, depth, **kw)
        if item is None:  # raw mode (R64): packed, bits per pixel from the counter depth
            bits = {1: 1, 6: 8, 12: 16, 24: 32}[depth]
            out += bytes((f * 31 + i) % 256 for i in range(width * height * bits // 8))
        else:
            for i in range(width * height):
                out += ((f * 1000 + i) % (1 << (8 * item))).to_bytes(item, "big")
    return out


def hdr(frames, scan_x, scan_y, depth, per_trigger=1):
    lines = ["HDR,", "Time and Date Stamp (day, mnth, yr, hr, min, s):\t15/04/2021 14:44:41",
             "Chip ID:\tW000_A0, - , - , - ", "Assembly Size (NX1, 2X2):\t   1x1",
             "Counter Depth (number):\t%d" % depth,
             "Frames in Acquisition (Number):\t%d" % frames,
             "Frames per Trigger (Number):\t%d" % per_trigger]
    if scan_x:
        lines += ["ScanX:\t%d" % scan_x, "ScanY:\t%d" % scan_y]
    lines += ["Software Version:\t0.77.0.16", "End\t"]
    return "\n".join(lines).encode() + b"\0" * 16


def mib_seeds(out):
    write(out, "mib", "u08_2frames_4x4.mib", mib(2, 4, 4, "U08", 6))
    write(out, "mib", "u16_4frames_4x3_hdr_scan.mib",
          mib(4, 4, 3, "U16", 12) + SPLIT + hdr(4, 2, 2, 12))
    write(out, "mib", "u32_6frames_2x2_hdr_trigger.mib",
          mib(6, 2, 2, "U32", 24) + SPLIT + hdr(6, 0, 0, 24, per_trigger=3))
    write(out, "mib", "u16_quad_header.mib",
          mib(1, 8, 8, "U16", 12, header_bytes=768, chips=4, layout="   2x2", select="0F"))
    write(out, "mib", "r64_1bit_256x256.mib", mib(1, 256, 256, "R64", 1))


# ---- TIA .ser / .emi ---------------------------------------------------------------------
def ser(new_version, images, elements, shape, dtype_code, fmt, nav_dims=1, tag_type=0x4152):
    off = "<q" if new_version else "<i"
    ob = 8 if new_version else 4
    head = struct.pack("<hhhii", 0x4949, 0x0197, 0x0220 if new_version else 0x0210,
                       0x4122 if images else 0x4120, tag_type)
    head += struct.pack("<ii", elements, elements)
    array_field = len(head)
    head += struct.pack(off, 0)
    head += struct.pack("<i", nav_dims)
    sizes = [elements] if nav_dims == 1 else [elements // 2, 2]
    for d, n in enumerate(sizes):
        desc, units = (b"Number", b"") if nav_dims == 1 else ((b"X", b"Y")[d], b"meters")
        head += struct.pack("<iddi", n, 0.0, 1e-9, 0) + struct.pack("<i", len(desc)) + desc
        head += struct.pack("<i", len(units)) + units
    array_at = len(head)
    body = bytearray(head + b"\0" * (2 * elements * ob))
    body[array_field:array_field + ob] = struct.pack(off, array_at)
    count = 1
    for n in shape:
        count *= n
    for e in range(elements):
        at = len(body)
        body[array_at + e * ob:array_at + (e + 1) * ob] = struct.pack(off, at)
        if images:
            body += struct.pack("<ddiddih", -2e-9, 1e-10, 0, -1e-9, 2e-10, 0, dtype_code)
            body += struct.pack("<ii", shape[1], shape[0])
        else:
            body += struct.pack("<ddih", 100.0, 0.5, 0, dtype_code) + struct.pack("<i", shape[0])
        body += struct.pack("<%d%s" % (count, fmt), *[(e * 7 + i) % 100 for i in range(count)])
    # Tag offsets (time tags) after the data; the reader does not need them, real files have them.
    for e in range(elements):
        at = len(body)
        body[array_at + (elements + e) * ob:array_at + (elements + e + 1) * ob] = struct.pack(off, at)
        body += struct.pack("<hi", 0x4152, 1000 + e)
    return bytes(body)


EMI = (b"\x00" * 32 + b"<ObjectInfo><Uuid>00000000-0000-0000-0000-000000000000</Uuid>"
       b"<ExperimentalConditions><MicroscopeConditions><AcceleratingVoltage>200000"
       b"</AcceleratingVoltage><Tilt1>0.1</Tilt1><Tilt2>0.0</Tilt2></MicroscopeConditions>"
       b"</ExperimentalConditions><ExperimentalDescription><Root><Data><Label>Microscope"
       b"</Label><Value>Synthetic</Value><Unit></Unit></Data><Data><Label>High tension</Label>"
       b"<Value>200</Value><Unit>kV</Unit></Data><Data><Label>Camera length</Label><Value>0.04"
       b"</Value><Unit>m</Unit></Data><Data><Label>Magnification</Label><Value>10000</Value>"
       b"<Unit>x</Unit></Data></Root></ExperimentalDescription></ObjectInfo>" + b"\x00" * 16)


def tia_seeds(out):
    write(out, "tia", "images_new_u16.ser", ser(True, True, 2, (3, 4), 2, "H"))
    write(out, "tia", "images_old_f32_emi.ser",
          ser(False, True, 2, (2, 2), 5, "f") + SPLIT + EMI)
    write(out, "tia", "spectra_new_i32_2d_nav.ser",
          ser(True, False, 4, (8,), 7, "i", nav_dims=2, tag_type=0x4142))
    write(out, "tia", "spectra_old_f64.ser", ser(False, False, 2, (5,), 6, "d"))


# ---- MRC -------------------------------------------------------------------------------------
def mrc(n, mode, data, big=False, ispg=0, ext=b"", exttyp=b"", m=None, labels=(b"seed",)):
    e = ">" if big else "<"
    h = bytearray(1024)
    struct.pack_into(e + "4i", h, 0, n[0], n[1], n[2], mode)
    struct.pack_into(e + "3i", h, 28, *(m or n))
    struct.pack_into(e + "6f", h, 40, n[0] * 1.5, n[1] * 1.5, (m or n)[2] * 1.5, 90, 90, 90)
    struct.pack_into(e + "3i", h, 64, 1, 2, 3)
    struct.pack_into(e + "2i", h, 88, ispg, len(ext))
    h[104:108] = exttyp.ljust(4, b"\0")
    struct.pack_into(e + "i", h, 108, 20140)
    struct.pack_into(e + "3f", h, 196, 1.0, 2.0, 3.0)
    h[208:212] = b"MAP "
    h[212:214] = b"\x11\x11" if big else b"\x44\x44"
    struct.pack_into(e + "i", h, 220, len(labels))
    for i, label in enumerate(labels):
        h[224 + 80 * i:224 + 80 * i + len(label)] = label
    return bytes(h) + ext + data


def mrc_seeds(out):
    write(out, "mrc", "int16_4x3x2.mrc", mrc((4, 3, 2), 1, struct.pack("<24h", *range(-12, 12))))
    write(out, "mrc", "float32_be_2x2x3.mrc",
          mrc((2, 2, 3), 2, struct.pack(">12f", *[i * 0.5 for i in range(12)]), big=True))
    write(out, "mrc", "uint16_volume_ccp4_ext.mrc",
          mrc((3, 3, 3), 6, struct.pack("<27H", *range(27)), ispg=1, ext=b"\0" * 80,
              exttyp=b"CCP4"))
    write(out, "mrc", "float16_volume_stack.mrc",
          mrc((2, 2, 4), 12, struct.pack("<16e", *[i / 4 for i in range(16)]), ispg=401,
              m=(2, 2, 2)))
    write(out, "mrc", "complex64_2x2x1.mrc",
          mrc((2, 2, 1), 4, struct.pack("<8f", *range(8)), exttyp=b"FEI1", ext=b"\0" * 128))
    write(out, "mrc", "int8_gz.map.gz",
          gzip.compress(mrc((4, 2, 2), 0, bytes(range(16))), mtime=0))


# ---- NanoMegas blockfile ---------------------------------------------------------------------
def blo(nx, ny, dp, note=b""):
    h = bytearray(4096)
    h[0:6] = b"IMGBLO"
    struct.pack_into("<HII", h, 6, 0x0102, 4096, 4096 + nx * ny)
    struct.pack_into("<H", h, 20, dp)
    struct.pack_into("<HH", h, 24, nx, ny)
    struct.pack_into("<dd", h, 30, 2.5, 2.5)
    struct.pack_into("<H", h, 50, 500)
    h[240:240 + len(note)] = note
    body = bytes(h) + b"\x01" * (nx * ny)
    for f in range(nx * ny):
        body += b"\xaa\x55" + struct.pack("<I", f) + bytes((f * 7 + i) % 251 for i in range(dp * dp))
    return body


def blo_seeds(out):
    write(out, "blo", "scan_3x2_dp4.blo", blo(3, 2, 4, b"synthetic note"))
    write(out, "blo", "scan_1x1_dp8.blo", blo(1, 1, 8))


# ---- EMPAD -----------------------------------------------------------------------------------
def empad_xml(body, raw="scan.raw"):
    return ('<?xml version="1.0"?>\n<root name="acquisition_1"><timestamp timestamp="1" '
            'isoformat="2019-06-06T13:30:00"/><software_version>0.51</software_version>'
            '<raw_file filename="%s"/>%s</root>' % (raw, body)).encode()


def empad_raw(frames):
    return struct.pack("<%df" % (frames * 130 * 128), *[float(i % 4096) for i in range(frames * 130 * 128)])


def empad_seeds(out):
    iom = ("<iom_measurements><optics.get_cameralength>0.7225</optics.get_cameralength>"
           "<source.get_voltage>300000.0</source.get_voltage><optics.get_full_scan_field_of_view>"
           "[4.5e-06, 4.5e-06]</optics.get_full_scan_field_of_view><calibrated_pixelsize>"
           "1.8e-10</calibrated_pixelsize></iom_measurements>")
    write(out, "empad", "map_1x1.xml",
          empad_xml("<pix_x>1</pix_x><pix_y>1</pix_y><exposure_time>1</exposure_time>" + iom)
          + SPLIT + empad_raw(1))
    write(out, "empad", "series_2.xml",
          empad_xml("<type>series</type><series_count>2</series_count>") + SPLIT + empad_raw(2))
    write(out, "empad", "scan_resolution_no_raw.xml",
          empad_xml('<scan_parameters mode="acquire"><scan_resolution_x>1</scan_resolution_x>'
                    '<scan_resolution_y>1</scan_resolution_y></scan_parameters>'))


# ---- Ripple ----------------------------------------------------------------------------------
def ripple_seeds(out):
    base = ";comment\nkey\tvalue\nwidth\t3\nheight\t2\ndepth\t4\n"
    be = b"xx" + b"".join(struct.pack(">h", i * 100 - 1000) for i in range(24))
    write(out, "ripple", "vector_int16_be.rpl",
          (base + "offset\t2\ndata-length\t2\ndata-type\tsigned\nbyte-order\tbig-endian\n"
           "record-by\tvector\nev-per-chan\t0.5\ndepth-units\teV\n").encode() + SPLIT + be)
    write(out, "ripple", "image_float32_le.rpl",
          (base + "offset\t0\ndata-length\t4\ndata-type\tfloat\nbyte-order\tlittle-endian\n"
           "record-by\timage\ntitle\tseed\nwidth-scale\t2.0\nwidth-units\tnm\nwidth-name\tx\n"
           "height-origin\t1.0\n").encode() + SPLIT + struct.pack("<24f", *range(24)))
    write(out, "ripple", "dont_care_uint8.rpl",
          b"key\tvalue\nwidth\t2\nheight\t3\ndepth\t1\noffset\t0\ndata-length\t1\n"
          b"data-type\tunsigned\nbyte-order\tdont-care\nrecord-by\tdont-care\n" + SPLIT + bytes(range(6)))


# ---- EMSA/MSA --------------------------------------------------------------------------------
MSA_HEAD = ("#FORMAT      : EMSA/MAS Spectral Data File\n#VERSION     : 1.0\n"
            "#TITLE       : synthetic\n#DATE        : 01-JAN-2024\n#NPOINTS     : 4.\n"
            "#NCOLUMNS    : 1.\n#XUNITS      : eV\n#XLABEL      : Energy\n#XPERCHAN    : 2.5\n"
            "#OFFSET      : -10\n#BEAMKV   -kV: 200.0\n")


def msa_seeds(out):
    write(out, "msa", "y_data.msa",
          (MSA_HEAD + "#DATATYPE    : Y\n#SPECTRUM    :\n1.0, 2.0, 3.0, 4.0\n#ENDOFDATA   :\n")
          .encode())
    write(out, "msa", "xy_data_crlf.msa",
          (MSA_HEAD + "#DATATYPE    : XY\n#SPECTRUM    :\n-10, 1\n-7.5, 2\n-5, 3\n-2.5, 4\n"
           "#ENDOFDATA   :\n").replace("\n", "\r\n").encode())


# ---- TIFF ------------------------------------------------------------------------------------
def packbits(data):
    out = b""
    for i in range(0, len(data), 128):
        chunk = data[i:i + 128]
        out += bytes([len(chunk) - 1]) + chunk
    return out


def tiff(pages, big=False, bigtiff=False, extra=None, compression=1, tiled=False):
    """pages: list of (height, width, bits, sample_format, raw pixel bytes in file order)."""
    e = ">" if big else "<"
    o, ofmt, entry_size, count_fmt = (8, "Q", 20, "Q") if bigtiff else (4, "I", 12, "H")
    header = (b"MM" if big else b"II") + (struct.pack(e + "HHHQ", 43, 8, 0, 0) if bigtiff
                                         else struct.pack(e + "HI", 42, 0))
    body = bytearray(header)
    first_ifd_at = 8 if bigtiff else 4
    prev_next = first_ifd_at
    for height, width, bits, fmt_code, pixels in pages:
        data = packbits(pixels) if compression == 32773 else pixels
        data_at = len(body)
        body += data
        if len(body) % 2:
            body += b"\0"
        tags = {256: (4, [width]), 257: (4, [height]), 258: (3, [bits]), 259: (3, [compression]),
                262: (3, [1]), 277: (3, [1]), 339: (3, [fmt_code]), 296: (3, [3]),
                282: (5, [10000, 15]), 283: (5, [10000, 15])}
        if tiled:
            tags.update({322: (3, [width]), 323: (3, [height]), 324: (4, [data_at]),
                         325: (4, [len(data)])})
        else:
            tags.update({273: (4, [data_at]), 278: (3, [height]), 279: (4, [len(data)])})
        for tag, value in (extra or {}).items():
            tags[tag] = value
        sizes = {2: 1, 3: 2, 4: 4, 5: 8, 16: 8}
        fmts = {2: "B", 3: "H", 4: "I", 16: "Q"}
        entries, blobs = [], []
        ifd_at = len(body)
        ifd_len = (8 if bigtiff else 2) + entry_size * len(tags) + o
        blob_at = ifd_at + ifd_len
        for tag in sorted(tags):
            typ, values = tags[tag]
            raw = (values if isinstance(values, bytes) else
                   b"".join(struct.pack(e + "II", values[i], values[i + 1])
                            for i in range(0, len(values), 2)) if typ == 5 else
                   struct.pack(e + fmts[typ] * len(values), *values))
            count = len(raw) // sizes[typ]
            if len(raw) <= o:
                value_field = raw.ljust(o, b"\0")
            else:
                value_field = struct.pack(e + ofmt, blob_at)
                blobs.append(raw + (b"\0" if len(raw) % 2 else b""))
                blob_at += len(blobs[-1])
            entries.append(struct.pack(e + "HH" + ("Q" if bigtiff else "I"), tag, typ, count)
                           + value_field)
        struct.pack_into(e + ofmt, body, prev_next, ifd_at)
        body += struct.pack(e + count_fmt, len(tags)) + b"".join(entries)
        prev_next = len(body)
        body += b"\0" * o + b"".join(blobs)
    return bytes(body)


def tiff_seeds(out):
    u16 = lambda n, k, e="<": struct.pack(e + "%dH" % n, *[(k * 100 + i) % 65536 for i in range(n)])
    ij = b"ImageJ=1.53t\nimages=2\nslices=2\nunit=um\nspacing=0.5\nloop=false\n\0"
    write(out, "tiff", "imagej_2pages_u16_le.tif",
          tiff([(3, 4, 16, 1, u16(12, 0)), (3, 4, 16, 1, u16(12, 1))], extra={270: (2, ij)}))
    write(out, "tiff", "float32_be.tif",
          tiff([(2, 3, 32, 3, struct.pack(">6f", *[i * 0.25 for i in range(6)]))], big=True))
    write(out, "tiff", "bigtiff_u8_tiled.tif",
          tiff([(4, 4, 8, 1, bytes(range(16)))], bigtiff=True, tiled=True))
    write(out, "tiff", "packbits_i16.tif",
          tiff([(2, 4, 16, 2, struct.pack("<8h", *range(-4, 4)))], compression=32773))


# ---- TVIPS -----------------------------------------------------------------------------------
def tvips_main(dimx, dimy, bits, version=2, frame_header=60):
    fields = [256, version, dimx, dimy, bits, 0, 0, 1, 1, 1, 200, 80, frame_header]
    return struct.pack("<13I", *fields).ljust(256, b"\0")


def tvips_record(num, dimx, dimy, bits, frame_header):
    head = struct.pack("<III", num, 1700000000 + num, 5 * num)
    if frame_header >= 60:
        head += struct.pack("<IfII5fIIf", 0, 1.5, 80, 2, 0.1, 0.2, 0.3, 0.0, 0.0, num % 3, 0, 0.5)
    head = head.ljust(frame_header, b"\0")
    n = dimx * dimy
    fmt = {8: "B", 16: "H", 32: "I"}[bits]
    return head + struct.pack("<%d%s" % (n, fmt), *[(num * 10 + i) % 256 for i in range(n)])


def tvips_seeds(out):
    v2 = tvips_main(3, 3, 16) + b"".join(tvips_record(i, 3, 3, 16, 60) for i in range(4))
    write(out, "tvips", "v2_4frames_u16.tvips", v2)
    v1 = tvips_main(2, 2, 8, version=1, frame_header=12) + b"".join(
        tvips_record(i, 2, 2, 8, 12) for i in range(3))
    write(out, "tvips", "v1_3frames_u8.tvips", v1)
    two = (tvips_main(2, 3, 32) + b"".join(tvips_record(i, 2, 3, 32, 60) for i in range(2)) +
           SPLIT + b"".join(tvips_record(i, 2, 3, 32, 60) for i in range(2, 5)))
    write(out, "tvips", "v2_two_parts_u32.tvips", two)


# ---- HyperSpy .zspy (zarr v2) as a ZipStore ----------------------------------------------------
def zspy_zip(shape, chunks, dtype, compressor, axes, fill=0):
    """A HyperSpy-style zip store: Experiments/scan/data (+ axis groups, metadata)."""
    import numpy as _np  # only for the chunk bytes (run with bench/.venv/bin/python)
    store = {".zgroup": '{"zarr_format": 2}',
             ".zattrs": '{"file_format": "ZSpy", "file_format_version": "3.3"}',
             "Experiments/.zgroup": '{"zarr_format": 2}',
             "Experiments/scan/.zgroup": '{"zarr_format": 2}',
             "Experiments/scan/metadata/.zgroup": '{"zarr_format": 2}',
             "Experiments/scan/metadata/General/.zgroup": '{"zarr_format": 2}',
             "Experiments/scan/metadata/General/.zattrs": '{"title": "seed"}'}
    comp = "null" if compressor is None else json.dumps(compressor)
    store["Experiments/scan/data/.zarray"] = (
        '{"zarr_format": 2, "shape": %s, "chunks": %s, "dtype": "%s", "order": "C", '
        '"compressor": %s, "fill_value": %d, "filters": null}'
        % (json.dumps(list(shape)), json.dumps(list(chunks)), dtype, comp, fill))
    for i, axis in enumerate(axes):
        store["Experiments/scan/axis-%d/.zgroup" % i] = '{"zarr_format": 2}'
        store["Experiments/scan/axis-%d/.zattrs" % i] = json.dumps(axis)
    data = _np.arange(int(_np.prod(shape)), dtype=dtype).reshape(shape) % 97
    grid = [range(0, n, c) for n, c in zip(shape, chunks)]
    import itertools
    for corner in itertools.product(*grid):
        block = _np.zeros(chunks, dtype=dtype)
        part = data[tuple(slice(a, a + c) for a, c in zip(corner, chunks))]
        block[tuple(slice(0, n) for n in part.shape)] = part
        raw = block.tobytes()
        if compressor is not None:
            raw = zlib.compress(raw, compressor.get("level", 1))
        key = ".".join(str(a // c) for a, c in zip(corner, chunks))
        store["Experiments/scan/data/" + key] = raw
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name in sorted(store):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            z.writestr(info, store[name])
    return out.getvalue()


def zspy_seeds(out):
    try:
        import numpy  # noqa: F401
    except ImportError:
        print("make_seeds: numpy missing, zspy seeds not written", file=sys.stderr)
        return
    nav = {"name": "y", "scale": 2.5, "offset": -1, "units": "nm", "navigate": True, "size": 3}
    ky = {"name": "ky", "scale": 0.1, "offset": 0, "units": "1/nm", "navigate": False, "size": 4}
    kx = {"name": "_None_", "scale": 1, "offset": 0, "units": "_None_", "navigate": False,
          "size": 5}
    write(out, "zspy", "u16_3x4x5_raw_chunks.zspy",
          zspy_zip((3, 4, 5), (2, 4, 5), "<u2", None, [nav, ky, kx]))
    write(out, "zspy", "f4_zlib_4x3.zspy",
          zspy_zip((4, 3), (3, 2), "<f4", {"id": "zlib", "level": 1},
                   [dict(nav, size=4), dict(ky, size=3)]))


# ---- HDF5 (generic, HyperSpy-like, EMD-like) ------------------------------------------------
def hdf5_seeds(out):
    try:
        import h5py
        import numpy as np
    except ImportError:
        print("make_seeds: h5py/numpy missing, hdf5 seeds not written", file=sys.stderr)
        return
    os.makedirs(os.path.join(out, "hdf5"), exist_ok=True)
    path = os.path.join(out, "hdf5", "tiny_generic.h5")
    with h5py.File(path, "w", track_order=True) as f:  # fixed creation order: same bytes each run
        f.create_dataset("data", data=np.arange(2 * 3 * 4, dtype="<u2").reshape(2, 3, 4))
    path = os.path.join(out, "hdf5", "tiny_hspy_like.h5")
    with h5py.File(path, "w", track_order=True) as f:
        f.attrs["file_format"] = "HyperSpy"
        f.attrs["file_format_version"] = "3.1"
        g = f.create_group("Experiments/__unnamed__")
        g.create_dataset("data", data=np.ones((3, 5), dtype="<f4"), chunks=(1, 5), compression="gzip")
        for i, (n, size) in enumerate((("x", 3), ("E", 5))):
            a = g.create_group(f"axis-{i}")
            a.attrs.update({"name": n, "size": size, "scale": 0.5, "offset": 1.0, "units": "eV",
                            "navigate": i == 0})
    path = os.path.join(out, "hdf5", "tiny_emd_like.emd")
    with h5py.File(path, "w", track_order=True) as f:
        f.attrs["version_major"] = 0
        f.attrs["version_minor"] = 2
        g = f.create_group("data/signal")
        g.attrs["emd_group_type"] = 1
        g.create_dataset("data", data=np.arange(12, dtype="<i4").reshape(3, 4))
        for i, n in enumerate((3, 4)):
            d = g.create_dataset(f"dim{i + 1}", data=np.arange(n, dtype="<f8"))
            d.attrs["name"] = f"d{i}"
            d.attrs["units"] = "nm"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for make in (mib_seeds, tia_seeds, mrc_seeds, blo_seeds, empad_seeds, ripple_seeds, msa_seeds,
                 tiff_seeds, tvips_seeds, zspy_seeds, hdf5_seeds):
        make(out)


if __name__ == "__main__":
    main()
