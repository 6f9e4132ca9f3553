#include <cstring>
#include <string>
#include <vector>

namespace net {

class Packet {
public:
    explicit Packet(const std::vector<unsigned char> &data) : data_(data) {}

    std::string header() const {
        char buf[16];
        std::memcpy(buf, data_.data(), data_.size());
        return std::string(buf, 16);
    }

    std::string header_safe() const {
        std::string out(data_.begin(), data_.begin() + std::min<size_t>(16, data_.size()));
        return out;
    }

    size_t size() const { return data_.size(); }

private:
    std::vector<unsigned char> data_;
};

int checksum(const Packet &p) {
    int sum = 0;
    for (size_t i = 0; i < p.size(); ++i)
        sum += static_cast<int>(i);
    return sum;
}

}  // namespace net
