/* Drawing helpers shared by the plot files. */
#ifndef SONO_PLOT_INTERNAL_H
#define SONO_PLOT_INTERNAL_H

#include <cairo.h>

#include "sonodream/error.h"

/* Check the drawing, write it atomically and release both cairo objects. */
sono_status sono_plot_finish_png(cairo_t *cr, cairo_surface_t *surface, const char *path, sono_error *err);
/* Text at (x, y) aligned by fractions of its extent (0.5, 0.5: centred). */
void sono_plot_text(cairo_t *cr, double x, double y, const char *text, double align_x, double align_y);

#endif
