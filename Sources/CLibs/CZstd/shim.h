#ifndef DPONE_CZSTD_SHIM_H
#define DPONE_CZSTD_SHIM_H
#include <zstd.h>
#endif
