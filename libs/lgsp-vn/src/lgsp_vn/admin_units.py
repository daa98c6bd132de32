"""Official administrative-unit codes the population domain needs.

Provinces: the 63 province-level units and their 2-digit codes from the national list of
administrative units (the General Statistics Office list, Decision 124/2004/QĐ-TTg and its
updates). The CCCD birth-registration code is the same code zero-padded to 3 digits
(Circular 59/2021/TT-BCA, appendix "mã tỉnh, thành phố trực thuộc trung ương nơi công dân đăng
ký khai sinh"): 001 Hà Nội ... 077 Bà Rịa - Vũng Tàu ... 096 Cà Mau.

Bà Rịa - Vũng Tàu: the 8 district-level units and their communes/wards with their official
5-digit codes as they stood until 31/12/2024 (the layout the platform's topics use; in 2025 Long
Điền and Đất Đỏ were merged and later the district level was abolished, which this simulation
deliberately does not follow). Côn Đảo has no commune-level units.
"""

from dataclasses import dataclass

# 2-digit official province code -> name as written in the CCCD code appendix.
PROVINCES: dict[str, str] = {
    "01": "Hà Nội",
    "02": "Hà Giang",
    "04": "Cao Bằng",
    "06": "Bắc Kạn",
    "08": "Tuyên Quang",
    "10": "Lào Cai",
    "11": "Điện Biên",
    "12": "Lai Châu",
    "14": "Sơn La",
    "15": "Yên Bái",
    "17": "Hòa Bình",
    "19": "Thái Nguyên",
    "20": "Lạng Sơn",
    "22": "Quảng Ninh",
    "24": "Bắc Giang",
    "25": "Phú Thọ",
    "26": "Vĩnh Phúc",
    "27": "Bắc Ninh",
    "30": "Hải Dương",
    "31": "Hải Phòng",
    "33": "Hưng Yên",
    "34": "Thái Bình",
    "35": "Hà Nam",
    "36": "Nam Định",
    "37": "Ninh Bình",
    "38": "Thanh Hóa",
    "40": "Nghệ An",
    "42": "Hà Tĩnh",
    "44": "Quảng Bình",
    "45": "Quảng Trị",
    "46": "Thừa Thiên Huế",
    "48": "Đà Nẵng",
    "49": "Quảng Nam",
    "51": "Quảng Ngãi",
    "52": "Bình Định",
    "54": "Phú Yên",
    "56": "Khánh Hòa",
    "58": "Ninh Thuận",
    "60": "Bình Thuận",
    "62": "Kon Tum",
    "64": "Gia Lai",
    "66": "Đắk Lắk",
    "67": "Đắk Nông",
    "68": "Lâm Đồng",
    "70": "Bình Phước",
    "72": "Tây Ninh",
    "74": "Bình Dương",
    "75": "Đồng Nai",
    "77": "Bà Rịa - Vũng Tàu",
    "79": "Hồ Chí Minh",
    "80": "Long An",
    "82": "Tiền Giang",
    "83": "Bến Tre",
    "84": "Trà Vinh",
    "86": "Vĩnh Long",
    "87": "Đồng Tháp",
    "89": "An Giang",
    "91": "Kiên Giang",
    "92": "Cần Thơ",
    "93": "Hậu Giang",
    "94": "Sóc Trăng",
    "95": "Bạc Liêu",
    "96": "Cà Mau",
}

# 3-digit CCCD birth-registration code -> province name.
CCCD_PROVINCE_CODES: dict[str, str] = {f"0{code}": name for code, name in PROVINCES.items()}

BA_RIA_VUNG_TAU = "77"


@dataclass(frozen=True, slots=True)
class District:
    """A district-level unit (huyện / thị xã / thành phố thuộc tỉnh) and its communes."""

    code: str
    name: str
    communes: tuple[tuple[str, str], ...]


BRVT_DISTRICTS: tuple[District, ...] = (
    District(
        "747",
        "Thành phố Vũng Tàu",
        (
            ("26506", "Phường 1"),
            ("26508", "Phường Thắng Tam"),
            ("26509", "Phường 2"),
            ("26512", "Phường 3"),
            ("26515", "Phường 4"),
            ("26518", "Phường 5"),
            ("26521", "Phường Thắng Nhì"),
            ("26524", "Phường 7"),
            ("26526", "Phường Nguyễn An Ninh"),
            ("26527", "Phường 8"),
            ("26530", "Phường 9"),
            ("26533", "Phường Thắng Nhất"),
            ("26535", "Phường Rạch Dừa"),
            ("26536", "Phường 10"),
            ("26539", "Phường 11"),
            ("26542", "Phường 12"),
            ("26545", "Xã Long Sơn"),
        ),
    ),
    District(
        "748",
        "Thành phố Bà Rịa",
        (
            ("26548", "Phường Phước Hưng"),
            ("26551", "Phường Phước Hiệp"),
            ("26554", "Phường Phước Nguyên"),
            ("26557", "Phường Long Toàn"),
            ("26558", "Phường Long Tâm"),
            ("26560", "Phường Phước Trung"),
            ("26563", "Phường Long Hương"),
            ("26566", "Phường Kim Dinh"),
            ("26567", "Xã Tân Hưng"),
            ("26569", "Xã Long Phước"),
            ("26572", "Xã Hoà Long"),
        ),
    ),
    District(
        "750",
        "Huyện Châu Đức",
        (
            ("26574", "Xã Bàu Chinh"),
            ("26575", "Thị trấn Ngãi Giao"),
            ("26578", "Xã Bình Ba"),
            ("26581", "Xã Suối Nghệ"),
            ("26584", "Xã Xuân Sơn"),
            ("26587", "Xã Sơn Bình"),
            ("26590", "Xã Bình Giã"),
            ("26593", "Xã Bình Trung"),
            ("26596", "Xã Xà Bang"),
            ("26599", "Xã Cù Bị"),
            ("26602", "Xã Láng Lớn"),
            ("26605", "Xã Quảng Thành"),
            ("26608", "Xã Kim Long"),
            ("26611", "Xã Suối Rao"),
            ("26614", "Xã Đá Bạc"),
            ("26617", "Xã Nghĩa Thành"),
        ),
    ),
    District(
        "751",
        "Huyện Xuyên Mộc",
        (
            ("26620", "Thị trấn Phước Bửu"),
            ("26623", "Xã Phước Thuận"),
            ("26626", "Xã Phước Tân"),
            ("26629", "Xã Xuyên Mộc"),
            ("26632", "Xã Bông Trang"),
            ("26635", "Xã Tân Lâm"),
            ("26638", "Xã Bàu Lâm"),
            ("26641", "Xã Hòa Bình"),
            ("26644", "Xã Hòa Hưng"),
            ("26647", "Xã Hòa Hiệp"),
            ("26650", "Xã Hòa Hội"),
            ("26653", "Xã Bưng Riềng"),
            ("26656", "Xã Bình Châu"),
        ),
    ),
    District(
        "752",
        "Huyện Long Điền",
        (
            ("26659", "Thị trấn Long Điền"),
            ("26662", "Thị trấn Long Hải"),
            ("26665", "Xã An Ngãi"),
            ("26668", "Xã Tam Phước"),
            ("26671", "Xã An Nhứt"),
            ("26674", "Xã Phước Tỉnh"),
            ("26677", "Xã Phước Hưng"),
        ),
    ),
    District(
        "753",
        "Huyện Đất Đỏ",
        (
            ("26680", "Thị trấn Đất Đỏ"),
            ("26683", "Xã Phước Long Thọ"),
            ("26686", "Xã Phước Hội"),
            ("26689", "Xã Long Mỹ"),
            ("26692", "Thị trấn Phước Hải"),
            ("26695", "Xã Long Tân"),
            ("26698", "Xã Láng Dài"),
            ("26701", "Xã Lộc An"),
        ),
    ),
    District(
        "754",
        "Thị xã Phú Mỹ",
        (
            ("26704", "Phường Phú Mỹ"),
            ("26707", "Xã Tân Hoà"),
            ("26710", "Xã Tân Hải"),
            ("26713", "Phường Phước Hoà"),
            ("26716", "Phường Tân Phước"),
            ("26719", "Phường Mỹ Xuân"),
            ("26722", "Xã Sông Xoài"),
            ("26725", "Phường Hắc Dịch"),
            ("26728", "Xã Châu Pha"),
            ("26731", "Xã Tóc Tiên"),
        ),
    ),
    District("755", "Huyện Côn Đảo", ()),
)
