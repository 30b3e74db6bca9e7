"""One time format for every admin page: ISO-like, seconds included, the zone named (TIME_ZONE, UTC by default).

Django's admin lists and read-only fields show datetimes with DATETIME_FORMAT of the active language, and
templates use it through {{ value|date:"DATETIME_FORMAT" }}; the test-postback log's script formats the same way.
"""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
