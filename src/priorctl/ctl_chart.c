/* SPDX-License-Identifier: MIT */
/*
 * ctl_chart.c - a small line chart written as SVG text (log-scale x axis,
 * linear y, one polyline per series with a legend, an optional ringed point
 * and dashed reference line), and its conversion to PNG by an external tool.
 *
 * The x ticks are powers of two, as the x values priorctl scaling plots
 * (table slots) are. The SVG has no scripts, fonts or external references,
 * so it can be committed and viewed anywhere. PNG conversion is optional:
 * when neither rsvg-convert nor ImageMagick's convert is installed, the
 * caller says so and goes on.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define W 760
#define H 460
#define LEFT 70   /* room for the y tick labels */
#define RIGHT 210 /* room for the legend */
#define TOP 40
#define BOTTOM 60

static const char *const palette[] = {
	"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
	"#9467bd", "#8c564b", "#e377c2", "#17becf",
};

/* The plot's data ranges and pixel mapping. */
struct frame {
	double x0, x1; /* log2 of the x range */
	double y0, y1;
	double ystep;
};

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
}

static double px_x(const struct frame *fr, double x)
{
	double t = fr->x1 > fr->x0 ? (log2(x) - fr->x0) / (fr->x1 - fr->x0) : 0.5;

	return LEFT + t * (W - LEFT - RIGHT);
}

static double px_y(const struct frame *fr, double y)
{
	return TOP + (fr->y1 - y) / (fr->y1 - fr->y0) * (H - TOP - BOTTOM);
}

/* A 1, 2 or 5 times a power of ten giving about 6 ticks over span. */
static double nice_step(double span)
{
	double raw = span / 6, p = pow(10, floor(log10(raw)));

	return raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
}

static void frame_of(const struct pctl_chart *c, struct frame *fr)
{
	double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY,
	       ymax = -INFINITY;

	for (size_t s = 0; s < c->n_series; s++)
		for (size_t i = 0; i < c->series[s].n; i++) {
			xmin = fmin(xmin, c->series[s].x[i]);
			xmax = fmax(xmax, c->series[s].x[i]);
			ymin = fmin(ymin, c->series[s].y[i]);
			ymax = fmax(ymax, c->series[s].y[i]);
		}
	if (c->has_ref) {
		ymin = fmin(ymin, c->ref_y);
		ymax = fmax(ymax, c->ref_y);
	}
	if (!(xmin <= xmax)) { /* no points: an empty frame */
		xmin = xmax = 1;
		ymin = 0;
		ymax = 1;
	}
	fr->x0 = floor(log2(xmin));
	fr->x1 = fmax(ceil(log2(xmax)), fr->x0 + 1);
	fr->ystep = nice_step(ymax > ymin ? ymax - ymin : 1);
	fr->y0 = floor(ymin / fr->ystep) * fr->ystep;
	fr->y1 = fmax(ceil(ymax / fr->ystep) * fr->ystep, fr->y0 + fr->ystep);
}

static void draw_axes(FILE *f, const struct pctl_chart *c,
		      const struct frame *fr)
{
	int every = fr->x1 - fr->x0 > 10 ? 2 : 1;
	int decimals = fr->ystep < 1 ? (int)ceil(-log10(fr->ystep) - 1e-9) : 0;

	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		   "fill=\"none\" stroke=\"#444\"/>\n",
		LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM);
	for (int k = (int)fr->x0; k <= (int)fr->x1; k += every)
		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			   "stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%d\" "
			   "text-anchor=\"middle\">2<tspan dy=\"-6\" "
			   "font-size=\"9\">%d</tspan></text>\n",
			px_x(fr, ldexp(1, k)), TOP, px_x(fr, ldexp(1, k)),
			H - BOTTOM, px_x(fr, ldexp(1, k)), H - BOTTOM + 18, k);
	for (double y = fr->y0; y <= fr->y1 + fr->ystep / 2; y += fr->ystep)
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
			   "stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
			   "text-anchor=\"end\">%.*f</text>\n",
			LEFT, px_y(fr, y), W - RIGHT, px_y(fr, y), LEFT - 6,
			px_y(fr, y) + 4, decimals, y);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
		(LEFT + W - RIGHT) / 2, H - 16);
	xml_text(f, c->x_label);
	fprintf(f, "</text>\n<text transform=\"translate(18,%d) rotate(-90)\" "
		   "text-anchor=\"middle\">", (TOP + H - BOTTOM) / 2);
	xml_text(f, c->y_label);
	fprintf(f, "</text>\n<text x=\"%d\" y=\"24\" font-size=\"15\">", LEFT);
	xml_text(f, c->title);
	fputs("</text>\n", f);
}

static void draw_series(FILE *f, const struct pctl_chart *c,
			const struct frame *fr)
{
	for (size_t s = 0; s < c->n_series; s++) {
		const struct pctl_chart_series *se = &c->series[s];
		const char *color = palette[s % (sizeof(palette) / sizeof(*palette))];
		int ly = TOP + 14 + 20 * (int)s;

		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
			   "stroke-width=\"2\" points=\"", color);
		for (size_t i = 0; i < se->n; i++)
			fprintf(f, "%s%.1f,%.1f", i ? " " : "",
				px_x(fr, se->x[i]), px_y(fr, se->y[i]));
		fputs("\"/>\n", f);
		for (size_t i = 0; i < se->n; i++)
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
				   "fill=\"%s\"/>\n",
				px_x(fr, se->x[i]), px_y(fr, se->y[i]), color);
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			   "stroke=\"%s\" stroke-width=\"2\"/><text x=\"%d\" "
			   "y=\"%d\">", W - RIGHT + 14, ly, W - RIGHT + 38, ly,
			color, W - RIGHT + 44, ly + 4);
		xml_text(f, se->label);
		fputs("</text>\n", f);
	}
}

static void draw_marks(FILE *f, const struct pctl_chart *c,
		       const struct frame *fr)
{
	int ly = TOP + 14 + 20 * (int)c->n_series + 10;

	if (c->has_ref) {
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
			   "stroke=\"#666\" stroke-dasharray=\"6 4\"/>"
			   "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			   "stroke=\"#666\" stroke-dasharray=\"6 4\"/>"
			   "<text x=\"%d\" y=\"%d\">",
			LEFT, px_y(fr, c->ref_y), W - RIGHT, px_y(fr, c->ref_y),
			W - RIGHT + 14, ly, W - RIGHT + 38, ly, W - RIGHT + 44,
			ly + 4);
		xml_text(f, c->ref_label);
		fputs("</text>\n", f);
		ly += 20;
	}
	if (c->has_mark) {
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"8\" fill=\"none\" "
			   "stroke=\"#000\" stroke-width=\"2\"/><circle cx=\"%d\" "
			   "cy=\"%d\" r=\"6\" fill=\"none\" stroke=\"#000\" "
			   "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">",
			px_x(fr, c->mark_x), px_y(fr, c->mark_y),
			W - RIGHT + 26, ly, W - RIGHT + 44, ly + 4);
		xml_text(f, c->mark_label);
		fputs("</text>\n", f);
	}
}

int pctl_chart_write_svg(const char *cmd, const char *path,
			 const struct pctl_chart *c)
{
	struct frame fr;
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (!f) {
		rc = -errno;
		pctl_err("%s: %s: %s", cmd, path, strerror(-rc));
		return rc;
	}
	frame_of(c, &fr);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		   "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
		   "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
		   "fill=\"#fff\"/>\n",
		W, H, W, H);
	draw_axes(f, c, &fr);
	draw_series(f, c, &fr);
	draw_marks(f, c, &fr);
	fputs("</svg>\n", f);
	if (ferror(f))
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		pctl_err("%s: %s: write: %s", cmd, path, strerror(-rc));
	return rc;
}

/* True when an executable `name` is in PATH. */
static bool in_path(const char *name)
{
	const char *path = getenv("PATH"), *p;
	char buf[4096];

	for (p = path ? path : "/usr/bin:/bin"; *p; p += *p == ':') {
		size_t len = strcspn(p, ":");

		if (len && len + strlen(name) + 2 <= sizeof(buf)) {
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, name);
			if (access(buf, X_OK) == 0)
				return true;
		}
		p += len;
	}
	return false;
}

/* Runs argv (searched in PATH) with its output thrown away; waits for it.
 * @return 0 when it exited 0, else -EIO. */
static int run_quiet(char *const argv[])
{
	extern char **environ;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc, status;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -ENOMEM;
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
					 O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null",
					 O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -EIO;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -EIO;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* path as a tool's argument: "./" before one that starts with '-', so
 * that it is never read as an option. NULL when out of memory. */
static char *file_arg(const char *path)
{
	char *arg = malloc(strlen(path) + 3);

	if (arg)
		sprintf(arg, "%s%s", path[0] == '-' ? "./" : "", path);
	return arg;
}

int pctl_chart_svg_to_png(const char *svg, const char *png, const char **tool)
{
	char *in = file_arg(svg), *out = file_arg(png);
	int rc = -ENOMEM;

	*tool = in_path("rsvg-convert") ? "rsvg-convert"
		: in_path("convert")    ? "convert"
					: NULL;
	if (!*tool) {
		rc = -ENOENT;
	} else if (in && out && !strcmp(*tool, "rsvg-convert")) {
		char *const argv[] = { (char *)"rsvg-convert", (char *)"-o",
				       out, in, NULL };

		rc = run_quiet(argv);
	} else if (in && out) {
		char *const argv[] = { (char *)"convert", in, out, NULL };

		rc = run_quiet(argv);
	}
	free(in);
	free(out);
	return rc;
}
