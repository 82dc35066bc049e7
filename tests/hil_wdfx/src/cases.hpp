// The cases of wdfx_hil, one function each (edu_cases.cpp, nvme_cases.cpp, bench.cpp,
// conformance.cpp, aer_cases.cpp).
#pragma once

#include <string>
#include <vector>

namespace hil {

int edu_case(const std::string& bus, const std::string& bdf, const std::vector<std::string>& flags);
int try_open(const std::string& bdf, const std::string& holder);
int edu_busy_group(const std::string& self, const std::string& bdf);
int edu_reset(const std::string& bdf, bool expect_ok);
int edu_sysfs_unbind(const std::string& bus, const std::string& bdf);
int edu_unplug(const std::string& bdf);
int edu_vanish(const std::string& bdf);
int nonroot(const std::string& bdf, const std::string& mode);
int edu_bench(const std::string& bdf, unsigned rounds, unsigned n);
int nvme_case(const std::string& bdf, const std::string& mode);
int conformance(const std::string& bus, const std::string& bdf, const std::string& profile);
int aer_nonfatal(const std::string& bdf, bool register_callback);

}  // namespace hil
