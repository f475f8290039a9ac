// Placeholder: kernels of this family are added here and registered in InitGemm.
#include <napi.h>
#include "parallel.h"

namespace cm {
void InitGemm(Napi::Env env, Napi::Object exports) { (void)env; (void)exports; }
}  // namespace cm
