/* Functions takt never calls: unbounded writes (sprintf, strcpy, strcat),
 * hidden global state (strtok, gmtime, localtime), silent parse failure
 * (atoi). Include this header LAST in every .c file, after the system headers,
 * so the poison applies to our code and not to the declarations.
 * Use snprintf, memcpy with a known length, strtol with an end pointer, and
 * pkg/tz for time conversions instead.
 */
#ifndef TAKT_BASE_BANNED_H
#define TAKT_BASE_BANNED_H

#pragma GCC poison sprintf vsprintf strcpy strcat strncpy strncat strtok atoi atol atoll gmtime    \
    localtime ctime asctime

#endif
