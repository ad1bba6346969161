#ifndef DPONE_CPOSTGRES_SHIM_H
#define DPONE_CPOSTGRES_SHIM_H
#include <libpq-fe.h>
#endif
