#ifndef FORESIGHT_BASE_VERSION_H
#define FORESIGHT_BASE_VERSION_H

/* The build's version, set by the Makefile from VERSION and git. */
#ifndef FORESIGHT_VERSION
#define FORESIGHT_VERSION "0.0.0-unknown"
#endif

#endif
