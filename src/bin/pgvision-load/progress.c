/*
 * progress.c
 *	  The progress bar and the summary of a load.
 *
 * The bar goes to stderr and only when stderr is a terminal, redrawn at
 * most ten times a second (a redraw per image would cost more than a
 * small image takes to load).  Lines that must be seen while it runs
 * (--verbose, notes) clear it first.  The summary goes to stdout: the
 * counts of added, already there and rejected files, then every rejected
 * file with its reason, so a script can keep it and a user can fix the
 * files and run again.
 */
#include "load.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BAR_WIDTH 30

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

void
progress_start(Progress *p, int total, int ignored, bool bar, bool verbose)
{
	memset(p, 0, sizeof(*p));
	p->total = total;
	p->ignored = ignored;
	p->bar = bar;
	p->verbose = verbose;
	p->started = now_seconds();
	p->rejected_labels = xmalloc(sizeof(char *) * (size_t) (total > 0 ? total : 1));
	p->rejected_reasons = xmalloc(sizeof(char *) * (size_t) (total > 0 ? total : 1));
}

static void
clear_bar(Progress *p)
{
	if (p->bar)
		fputs("\r\033[K", stderr);
}

static void
draw_bar(Progress *p, bool force)
{
	double		t = now_seconds();
	double		elapsed = t - p->started;
	int			filled;
	char		bar[BAR_WIDTH + 1];

	if (!p->bar || (!force && t - p->last_draw < 0.1))
		return;
	p->last_draw = t;
	filled = p->total > 0 ? (int) ((double) p->done * BAR_WIDTH / p->total) : BAR_WIDTH;
	memset(bar, '#', (size_t) filled);
	memset(bar + filled, '.', (size_t) (BAR_WIDTH - filled));
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "\r[%s] %d/%d  %.0f images/s  added %d, already there %d, rejected %d\033[K",
			bar, p->done, p->total, elapsed > 0 ? p->done / elapsed : 0.0,
			p->added, p->already, p->rejected);
	fflush(stderr);
}

void
progress_note(Progress *p, const char *fmt,...)
{
	va_list		ap;

	clear_bar(p);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	draw_bar(p, true);
}

void
progress_record(Progress *p, const char *label, Outcome outcome, const char *reason)
{
	p->done++;
	switch (outcome)
	{
		case OUTCOME_ADDED:
			p->added++;
			if (p->verbose)
				progress_note(p, "added %s", label);
			break;
		case OUTCOME_ALREADY:
			p->already++;
			if (p->verbose)
				progress_note(p, "already there %s", label);
			break;
		case OUTCOME_REJECTED:
			p->rejected_labels[p->rejected] = xstrdup(label);
			p->rejected_reasons[p->rejected] = xstrdup(reason ? reason : "rejected");
			p->rejected++;
			if (p->verbose)
				progress_note(p, "rejected %s: %s", label, reason ? reason : "rejected");
			break;
	}
	draw_bar(p, p->done == p->total);
}

void
progress_finish(Progress *p, const char *project, bool interrupted)
{
	double		elapsed = now_seconds() - p->started;

	if (p->bar)
		fputc('\n', stderr);
	fflush(stderr);
	printf("pgvision-load: project \"%s\": %d added, %d already there, %d rejected",
		   project, p->added, p->already, p->rejected);
	if (p->ignored > 0)
		printf(", %d other files ignored", p->ignored);
	printf(" (%d of %d files in %.1f s, %.0f images/s, %.1f MB sent)\n",
		   p->done, p->total, elapsed, elapsed > 0 ? p->done / elapsed : 0.0,
		   p->bytes_sent / 1e6);
	if (interrupted)
		printf("pgvision-load: stopped after %d of %d files; run again to load the rest\n",
			   p->done, p->total);
	for (int i = 0; i < p->rejected; i++)
		printf("rejected: %s: %s\n", p->rejected_labels[i], p->rejected_reasons[i]);
	fflush(stdout);
}
