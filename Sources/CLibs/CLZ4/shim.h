#ifndef DPONE_CLZ4_SHIM_H
#define DPONE_CLZ4_SHIM_H
#include <lz4.h>
#endif
