/*
 * The schema draft's date features (core-internal: the draft in schema.c
 * calls it; see fl_schema_draft()).
 */
#ifndef FEDLEAD_CORE_DATETIME_INT_H
#define FEDLEAD_CORE_DATETIME_INT_H

#include <jansson.h>

#include "fedlead/datetime.h"

/*
 * For a column whose non-empty values are all dates in one format (the
 * scan of every value): appends to feats the drafted date feature
 *   {"name", "type": "date", "format", "reference", "missing", "clip"}
 * and returns 1; returns 0, appending nothing, when the column is not a
 * date column; FL_ERR_NOMEM.
 *
 * The reference is the first day of the month after the latest date in
 * the file: it depends on the data and not on the day the draft runs (the
 * same file drafts the same schema), every drafted age is positive, and a
 * person sees at once which day ages are counted from. The clip range is
 * [0, the age of the earliest date rounded up to two significant digits].
 * When the values do not tell day-first from month-first, "dmy" is drafted
 * and a sentence asking a person to check is added to root's "comment".
 */
int fl_date_draft_feature(json_t *root, json_t *feats, const char *name,
                          const struct fl_date_scan *sc, int missing);

#endif
