package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"sort"
	"strings"
)

// plotMain draws latency percentiles against offered load for one or more
// result files (one line style per file) as a PNG, with nothing but the
// standard library.
func plotMain(args []string) error {
	fs := flag.NewFlagSet("sy-loadgen plot", flag.ContinueOnError)
	out := fs.String("out", "latency.png", "PNG file to write")
	title := fs.String("title", "Switchyard: end-to-end latency vs offered load", "title")
	xAxis := fs.String("x", "delivered", "x axis: delivered (offered frames/s × subscribers) or ingest (offered agent.output frames/s)")
	goal := fs.Float64("goal-ms", 10, "draw a goal line at this latency (0: none)")
	width := fs.Int("width", 1100, "image width")
	height := fs.Int("height", 650, "image height")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: sy-loadgen plot -out latency.png FILE.json[+MORE.json][=label] …")
	}
	var all []plotSeries
	for _, a := range fs.Args() {
		// FILE.json[+MORE.json...][=label]: files joined by + are one
		// series (a sweep continued at higher rates in a second run).
		paths, label, _ := strings.Cut(a, "=")
		s := plotSeries{label: label}
		for _, path := range strings.Split(paths, "+") {
			r, err := readResult(path)
			if err != nil {
				return err
			}
			if s.label == "" {
				s.label = r.Label
			}
			for _, st := range r.Steps {
				if st.Latency.Samples == 0 {
					continue
				}
				x := st.OfferedDelivered
				if *xAxis == "ingest" {
					x = st.OfferedIngest
				}
				s.pts = append(s.pts, plotPoint{x: x, y: [3]float64{st.Latency.P50, st.Latency.P99, st.Latency.P999}})
			}
		}
		sort.Slice(s.pts, func(i, j int) bool { return s.pts[i].x < s.pts[j].x })
		all = append(all, s)
	}
	xLabel := "offered load: frames/s delivered to subscribers (log)"
	if *xAxis == "ingest" {
		xLabel = "offered load: agent.output frames/s sent by runtimes (log)"
	}
	img, err := drawLatencyPlot(all, *title, xLabel, *goal, *width, *height)
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

type plotPoint struct {
	x float64
	y [3]float64 // p50, p99, p99.9 in ms
}

type plotSeries struct {
	label string
	pts   []plotPoint
}

var (
	colWhite = color.RGBA{255, 255, 255, 255}
	colBlack = color.RGBA{20, 20, 20, 255}
	colGrid  = color.RGBA{225, 225, 225, 255}
	colGrid2 = color.RGBA{242, 242, 242, 255}
	colGoal  = color.RGBA{44, 160, 44, 255}
	colPct   = [3]color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {214, 39, 40, 255}}
	pctNames = [3]string{"p50", "p99", "p99.9"}
	dashes   = []int{0, 9, 3} // solid, dashed, dotted: one per file
)

func drawLatencyPlot(series []plotSeries, title, xLabel string, goal float64, w, h int) (*image.RGBA, error) {
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, p := range s.pts {
			xmin, xmax = math.Min(xmin, p.x), math.Max(xmax, p.x)
			for _, y := range p.y {
				y = math.Max(y, 0.01)
				ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
			}
		}
	}
	if math.IsInf(xmin, 1) {
		return nil, errors.New("plot: no step with latency samples")
	}
	if goal > 0 {
		ymin, ymax = math.Min(ymin, goal/2), math.Max(ymax, goal)
	}
	lx0, lx1 := math.Log10(niceFloor(xmin)), math.Log10(niceCeil(xmax))
	ly0, ly1 := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	if lx1 <= lx0 {
		lx1 = lx0 + 1
	}
	if ly1 <= ly0 {
		ly1 = ly0 + 1
	}
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, w, h))}
	c.fill(colWhite)
	const left, top, bottom = 95, 60, 80
	right := 250
	pw, ph := w-left-right, h-top-bottom
	px := func(x float64) int { return left + int(math.Round((math.Log10(x)-lx0)/(lx1-lx0)*float64(pw))) }
	py := func(y float64) int {
		return top + ph - int(math.Round((math.Log10(math.Max(y, 0.01))-ly0)/(ly1-ly0)*float64(ph)))
	}
	// Grid and tick labels.
	for d := math.Floor(lx0); d <= lx1; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if math.Log10(v) > lx1+1e-9 || math.Log10(v) < lx0-1e-9 {
				continue
			}
			x := px(v)
			col := colGrid2
			if m == 1 {
				col = colGrid
			}
			c.line(x, top, x, top+ph, col, 1, 0)
			lbl := fmtCount(v)
			c.text(x-c.textWidth(lbl, 2)/2, top+ph+10, lbl, colBlack, 2)
		}
	}
	for d := ly0; d <= ly1; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if math.Log10(v) > ly1+1e-9 {
				continue
			}
			y := py(v)
			col := colGrid2
			if m == 1 {
				col = colGrid
			}
			c.line(left, y, left+pw, y, col, 1, 0)
			if m == 1 || ly1-ly0 <= 3 {
				lbl := fmtMs(v)
				c.text(left-10-c.textWidth(lbl, 2), y-7, lbl, colBlack, 2)
			}
		}
	}
	c.rectOutline(left, top, left+pw, top+ph, colBlack)
	c.text(left+pw/2-c.textWidth(xLabel, 2)/2, top+ph+45, xLabel, colBlack, 2)
	c.textUp(18, top+ph/2+c.textWidth("latency, ms (log)", 2)/2, "latency, ms (log)", colBlack, 2)
	c.text(left+pw/2-c.textWidth(title, 2)/2, 18, title, colBlack, 2)
	if goal > 0 {
		y := py(goal)
		c.line(left, y, left+pw, y, colGoal, 2, 6)
		lbl := fmt.Sprintf("goal %s ms", fmtMs(goal))
		c.text(left+pw-c.textWidth(lbl, 2)-6, y-18, lbl, colGoal, 2)
	}
	// Lines and markers.
	for si, s := range series {
		dash := dashes[si%len(dashes)]
		for k := 0; k < 3; k++ {
			for i, p := range s.pts {
				x, y := px(p.x), py(p.y[k])
				c.square(x, y, 3, colPct[k])
				if i > 0 {
					q := s.pts[i-1]
					c.line(px(q.x), py(q.y[k]), x, y, colPct[k], 2, dash)
				}
			}
		}
	}
	// Legend.
	lx, ly := left+pw+20, top+10
	for si, s := range series {
		c.text(lx, ly, clip(s.label, 18), colBlack, 2)
		ly += 22
		for k := 0; k < 3; k++ {
			c.line(lx, ly+7, lx+40, ly+7, colPct[k], 2, dashes[si%len(dashes)])
			c.square(lx+20, ly+7, 3, colPct[k])
			c.text(lx+50, ly, pctNames[k], colBlack, 2)
			ly += 20
		}
		ly += 12
	}
	return c.img, nil
}

// niceFloor and niceCeil round to 1, 2 or 5 × a power of ten.
func niceFloor(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{5, 2, 1} {
		if m*p <= v*(1+1e-9) {
			return m * p
		}
	}
	return p
}

func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "~"
}

func fmtCount(v float64) string {
	switch {
	case v >= 1e6:
		return trimFloat(v/1e6) + "M"
	case v >= 1e3:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(v)
}

func fmtMs(v float64) string { return trimFloat(v) }

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// canvas draws on an RGBA image.
type canvas struct{ img *image.RGBA }

func (c *canvas) fill(col color.RGBA) {
	b := c.img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c.img.SetRGBA(x, y, col)
		}
	}
}

func (c *canvas) set(x, y int, col color.RGBA) {
	if image.Pt(x, y).In(c.img.Bounds()) {
		c.img.SetRGBA(x, y, col)
	}
}

// line draws from (x0,y0) to (x1,y1), width pixels wide; dash > 0 draws
// dash pixels on, dash pixels off.
func (c *canvas) line(x0, y0, x1, y1 int, col color.RGBA, width, dash int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for n := 0; ; n++ {
		if dash == 0 || (n/dash)%2 == 0 {
			for o := 0; o < width; o++ {
				for p := 0; p < width; p++ {
					c.set(x0+o-width/2, y0+p-width/2, col)
				}
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func (c *canvas) rectOutline(x0, y0, x1, y1 int, col color.RGBA) {
	c.line(x0, y0, x1, y0, col, 1, 0)
	c.line(x0, y1, x1, y1, col, 1, 0)
	c.line(x0, y0, x0, y1, col, 1, 0)
	c.line(x1, y0, x1, y1, col, 1, 0)
}

func (c *canvas) square(x, y, r int, col color.RGBA) {
	for i := -r; i <= r; i++ {
		for j := -r; j <= r; j++ {
			c.set(x+i, y+j, col)
		}
	}
}

func glyph(ch rune) [5]byte {
	if ch < 32 || ch > 126 {
		ch = '?'
	}
	return font5x8[ch-32]
}

func (c *canvas) textWidth(s string, scale int) int { return len(s) * 6 * scale }

// text draws s with its top-left corner at (x, y).
func (c *canvas) text(x, y int, s string, col color.RGBA, scale int) {
	for i, ch := range []rune(s) {
		g := glyph(ch)
		for gx := 0; gx < 5; gx++ {
			for gy := 0; gy < 8; gy++ {
				if g[gx]&(1<<gy) == 0 {
					continue
				}
				for a := 0; a < scale; a++ {
					for b := 0; b < scale; b++ {
						c.set(x+(i*6+gx)*scale+a, y+gy*scale+b, col)
					}
				}
			}
		}
	}
}

// textUp draws s rotated a quarter turn, reading upwards from (x, y).
func (c *canvas) textUp(x, y int, s string, col color.RGBA, scale int) {
	for i, ch := range []rune(s) {
		g := glyph(ch)
		for gx := 0; gx < 5; gx++ {
			for gy := 0; gy < 8; gy++ {
				if g[gx]&(1<<gy) == 0 {
					continue
				}
				for a := 0; a < scale; a++ {
					for b := 0; b < scale; b++ {
						c.set(x+gy*scale+b, y-(i*6+gx)*scale-a, col)
					}
				}
			}
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
