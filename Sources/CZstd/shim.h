#ifndef HVREPLAY_CZSTD_SHIM_H
#define HVREPLAY_CZSTD_SHIM_H
#include <zstd.h>
#include <zstd_errors.h>
#endif
