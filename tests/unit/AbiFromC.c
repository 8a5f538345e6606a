/*===- tests/unit/AbiFromC.c - gradrt/abi.h is a C header ----------------===*
 *
 * abi.h is the contract with generated code and must stay valid C (its C++
 * helpers sit behind __cplusplus). This file is compiled as strict C99 into
 * the unit tests, and AbiLayoutTest compares what it sees with C++'s view.
 *===----------------------------------------------------------------------===*/
#include "runtime/include/gradrt/abi.h"

const char *abi_loss_tensor_from_c(void);

/* The tensor the loss output is written to, spelled with the C macros. */
const char *abi_loss_tensor_from_c(void) { return GRT_OUTPUT_PREFIX "loss"; }
