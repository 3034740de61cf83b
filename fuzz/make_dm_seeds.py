# SPDX-License-Identifier: MIT
# Usage: python3 fuzz/make_dm_seeds.py fuzz/corpus/dm
# Write tiny synthetic DM3/DM4 files (no third-party content) as fuzz seeds.
import struct, sys, os
def w(v, n): return v.to_bytes(n, 'big')
class DM:
    def __init__(s, version): s.v = version; s.cw = 4 if version == 3 else 8
    def count(s, n): return w(n, s.cw)
    def tag(s, kind, label, body):
        lab = label.encode()
        head = bytes([kind]) + w(len(lab), 2) + lab
        if s.v == 4: head += w(len(body), 8)
        return head + body
    def group(s, label, tags):
        return s.tag(20, label, b'\0\1' + s.count(len(tags)) + b''.join(tags))
    def data(s, label, info, payload):
        return s.tag(21, label, b'%%%%' + s.count(len(info)) + b''.join(s.count(i) for i in info) + payload)
    def long(s, label, v): return s.data(label, [3], struct.pack('<i', v))
    def flt(s, label, v): return s.data(label, [6], struct.pack('<f', v))
    def text(s, label, t):
        return s.data(label, [20, 4, len(t)], t.encode('utf-16-le'))
    def string(s, label, t):
        return s.data(label, [18, len(t)], t.encode('utf-16-le'))
    def file(s, root_tags):
        root = b'\0\1' + s.count(len(root_tags)) + b''.join(root_tags)
        return w(s.v, 4) + w(len(root), s.cw) + w(1, 4) + root + b'\0' * 8
def make(version, dims, dtype_code, fmt, signal):
    d = DM(version)
    n = 1
    for x in dims: n *= x
    values = struct.pack('<' + fmt * n, *range(n))
    elem = {'H': 4, 'f': 6, 'h': 2}[fmt]
    cal = d.group('Dimension', [d.group('', [d.flt('Origin', -1.0), d.flt('Scale', 0.5), d.text('Units', 'nm')]) for _ in dims])
    image = d.group('', [
        d.group('ImageData', [
            d.group('Calibrations', [d.group('Brightness', [d.flt('Origin', 0.0), d.flt('Scale', 1.0), d.text('Units', 'e')]), cal]),
            d.data('Data', [20, elem, n], values),
            d.long('DataType', dtype_code),
            d.group('Dimensions', [d.long('', x) for x in dims]),
            d.data('Point', [15, 0, 2, 0, 6, 0, 6], struct.pack('<ff', 1.5, 2.5)),
            d.data('Points', [20, 15, 0, 2, 0, 3, 0, 3, 2], struct.pack('<iiii', 1, 2, 3, 4)),
        ]),
        d.group('ImageTags', [d.group('Meta Data', [d.text('Signal', signal)]), d.string('Title', 'seed')]),
        d.text('Name', 'seed'),
    ])
    return d.file([d.group('ImageList', [image])])
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
open(f'{out}/image_2x3_uint16.dm3', 'wb').write(make(3, [3, 2], 10, 'H', ''))
open(f'{out}/stack_2x2x2_int16.dm4', 'wb').write(make(4, [2, 2, 2], 1, 'h', ''))
open(f'{out}/si_2x1x4_float32.dm4', 'wb').write(make(4, [2, 1, 4], 2, 'f', 'EELS'))
open(f'{out}/spectrum_8_float32.dm3', 'wb').write(make(3, [8], 2, 'f', 'EELS'))
