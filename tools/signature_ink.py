"""Is a signature picture a drawing? (no Odoo import: plain Pillow)

The client's consent page posts two things: the picture of the signature pad
and the strokes the finger drew on it (lists of ``[x, y]`` points in the
picture's pixels). A consent needs a *drawn* signature, so the picture is
accepted only when:

- it holds ink (not blank), over a patch of some size (not a dot);
- strokes were drawn, long enough to be a signature (a typed name drawn in a
  font by the widget's "Auto" mode, or an image file loaded, has none);
- the ink is where the strokes went: nearly every inked pixel lies along a
  stroke (a typed name or a loaded picture with a token scribble beside it is
  refused), and the strokes left ink (strokes made up for a picture that does
  not show them are refused).

The check returns a problem code (or ``None``); the model translates it.
"""

import io
import math

from PIL import Image, ImageChops, ImageDraw

BLANK = "blank"
TOO_SMALL = "too_small"
NOT_DRAWN = "not_drawn"
NOT_THE_DRAWING = "not_the_drawing"
UNREADABLE = "unreadable"

# A pixel is ink when it is opaque enough and dark enough.
INK_ALPHA = 64
INK_LUMINANCE = 200
# At least this many inked pixels, spread over this share of the picture.
MIN_INK_PIXELS = 80
MIN_SPREAD = 0.12
# Strokes: at least this long in all, as a share of the picture's width.
MIN_STROKE_LENGTH = 0.5
# Bounds of what a pad sends (a signature is not a drawing of thousands of
# strokes); beyond them the post is refused as not drawn.
MAX_STROKES = 200
MAX_POINTS = 6000
# The pen's reach around a stroke, in pixels, and the shares that must match.
PEN_REACH = 8
MIN_INK_ON_STROKES = 0.9
MIN_STROKES_INKED = 0.7


def _ink_mask(picture):
    """A 1-bit mask (``L`` image, 255 = ink) of the picture's inked pixels."""
    rgba = picture.convert("RGBA")
    alpha = rgba.getchannel("A").point(lambda a: 255 if a >= INK_ALPHA else 0)
    dark = rgba.convert("L").point(lambda v: 255 if v < INK_LUMINANCE else 0)
    # A transparent pad keeps its background transparent (ink = opaque); a
    # JPEG has no transparency (ink = dark).
    return ImageChops.multiply(alpha, dark)


def _count(mask):
    return mask.histogram()[255]


def _clean_strokes(strokes, width, height):
    """The strokes as lists of ``(x, y)`` floats, or ``None`` when malformed."""
    if not isinstance(strokes, list) or len(strokes) > MAX_STROKES:
        return None
    cleaned = []
    total = 0
    for stroke in strokes:
        if not isinstance(stroke, list):
            return None
        points = []
        for point in stroke:
            if (
                not isinstance(point, list | tuple)
                or len(point) != 2
                or not all(
                    isinstance(v, int | float) and not isinstance(v, bool)
                    for v in point
                )
            ):
                return None
            x, y = float(point[0]), float(point[1])
            if not (math.isfinite(x) and math.isfinite(y)):
                return None
            # a finger may leave the pad a little
            points.append((min(max(x, 0.0), width), min(max(y, 0.0), height)))
        total += len(points)
        if total > MAX_POINTS:
            return None
        if points:
            cleaned.append(points)
    return cleaned


def _length(strokes):
    return sum(
        math.dist(a, b)
        for points in strokes
        for a, b in zip(points[:-1], points[1:], strict=True)
    )


def _read_ink(image_bytes):
    """``(problem, ink mask, inked pixels)``: the problem is ``None`` when
    the picture holds ink over a patch of some size."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as picture:
            picture.load()
            ink = _ink_mask(picture)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return UNREADABLE, None, 0
    width, height = ink.size
    inked = _count(ink)
    if inked < MIN_INK_PIXELS:
        return BLANK, ink, inked
    left, top, right, bottom = ink.getbbox()
    if (right - left) < MIN_SPREAD * width and (bottom - top) < MIN_SPREAD * height:
        return TOO_SMALL, ink, inked
    return None, ink, inked


def ink_problem(image_bytes):
    """``None`` when ``image_bytes`` (PNG or JPEG) holds ink over a patch of
    some size; else ``UNREADABLE``, ``BLANK`` or ``TOO_SMALL``: what every
    signature must show, drawn on a pad that sends its strokes or not."""
    return _read_ink(image_bytes)[0]


def drawn_signature_problem(image_bytes, strokes):
    """``None`` when ``image_bytes`` (PNG or JPEG) is the drawing of
    ``strokes``; else one of the problem codes above."""
    problem, ink, inked = _read_ink(image_bytes)
    if problem:
        return problem
    width, height = ink.size
    cleaned = _clean_strokes(strokes, width, height)
    if not cleaned or _length(cleaned) < MIN_STROKE_LENGTH * width:
        return NOT_DRAWN
    # Where the pen went, with its reach.
    reach = Image.new("L", ink.size, 0)
    draw = ImageDraw.Draw(reach)
    for points in cleaned:
        if len(points) > 1:
            draw.line(points, fill=255, width=2 * PEN_REACH, joint="curve")
        for x, y in points:
            draw.ellipse(
                (x - PEN_REACH, y - PEN_REACH, x + PEN_REACH, y + PEN_REACH), fill=255
            )
    ink_on_strokes = _count(ImageChops.multiply(ink, reach))
    if ink_on_strokes < MIN_INK_ON_STROKES * inked:
        return NOT_THE_DRAWING
    # And the strokes left ink: most points have ink near them.
    near_ink = ink.resize(
        (max(1, width // PEN_REACH), max(1, height // PEN_REACH)), Image.Resampling.BOX
    ).point(lambda v: 255 if v else 0)
    points = [point for stroke in cleaned for point in stroke]
    cell_w = width / near_ink.width
    cell_h = height / near_ink.height
    inked_points = 0
    for x, y in points:
        cx = min(int(x / cell_w), near_ink.width - 1)
        cy = min(int(y / cell_h), near_ink.height - 1)
        if any(
            near_ink.getpixel((i, j))
            for i in range(max(cx - 1, 0), min(cx + 2, near_ink.width))
            for j in range(max(cy - 1, 0), min(cy + 2, near_ink.height))
        ):
            inked_points += 1
    if inked_points < MIN_STROKES_INKED * len(points):
        return NOT_THE_DRAWING
    return None
