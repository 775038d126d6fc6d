#!/usr/bin/env python3
"""Writes corpus.jsonl beside this file: made-up share texts in the platforms' real formats, and
look-alikes that are not codes. Deterministic (seeded); rerun after editing the templates.
Each line: {"text": ..., "codes": [[code as written, platform id], ...]}."""
import json, os, random

rng = random.Random(20261202)
ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

def code(n=11):
    while True:
        c = "".join(rng.choice(ALNUM) for _ in range(n))
        if sum(any(f(ch) for ch in c) for f in (str.isupper, str.islower, str.isdigit)) >= 2:
            return c

TITLES = ["夏季新款冰丝阔腿裤女高腰垂感", "儿童保温杯316不锈钢带吸管", "小米充电宝20000毫安快充",
          "ins风陶瓷马克杯情侣款", "无线蓝牙耳机降噪运动款", "猫粮成猫幼猫通用10斤装",
          "加厚珊瑚绒四件套冬季", "家用电动牙刷软毛成人款", "新疆阿克苏冰糖心苹果5斤",
          "机械键盘青轴87键", "纯棉短袖T恤男宽松", "折叠收纳箱大号衣物整理"]
NAMES = ["小王爱吃鱼", "阿花的日常", "旅行的老李", "猫咪观察员", "深夜食堂小厨", "跑步的阿杰"]

def taobao():
    c, t = code(rng.choice([10, 11, 11, 12])), rng.choice(TITLES)
    forms = [
        (f"{t} 复制这段描述￥{c}￥后到👉淘宝👈", f"￥{c}￥"),
        (f"€{c}€ 复制整段信息，打开👉手机淘宝👈即可查看此商品:【{t}】", f"€{c}€"),
        (f"({c}) 复制这段描述打开淘宝，{t}", f"({c})"),
        (f"￥{c}￥", f"￥{c}￥"),
        (f"【{t}】复制₳{c}₳，打开【手机淘宝】即可查看", f"₳{c}₳"),
        (f"9👈₴{c}₴ https://m.tb.cn/h.{code(7)} {t}", f"₴{c}₴"),
        (f"（{c}） 打开tao宝 {t} 超划算", f"（{c}）"),
        (f"/{c}/ 复制后打开手淘看看 {t}", f"/{c}/"),
        (f"姐妹们冲！¥{c}¥ {t}", f"¥{c}¥"),
        (f"《{c}《 复制这条信息，打开淘宝{t}", f"《{c}《"),
        (f"$ 没抢到的看这里 ${c}$ {t}", f"${c}$"),
        (f"8.0¢{c}¢ 复制打开淘♂寳♀，{t}", f"¢{c}¢"),
        (f"{t}\n₤{c}₤\n复制这段话去淘宝", f"₤{c}₤"),
    ]
    text, found = rng.choice(forms)
    return text, [[found, "taobao"]]

def tmall():
    c, t = code(11), rng.choice(TITLES)
    forms = [
        (f"{t} 复制这段描述￥{c}￥后打开天猫APP", f"￥{c}￥"),
        (f"【天猫】({c}) 复制打开手机天猫，{t}", f"({c})"),
        (f"€{c}€ 天猫旗舰店 {t} 双十一价", f"€{c}€"),
    ]
    text, found = rng.choice(forms)
    return text, [[found, "tmall"]]

def jd():
    c, t = code(rng.choice([10, 12])), rng.choice(TITLES)
    forms = [
        (f"【京东】{t} ￥{c}% 复制整段话，打开京东APP", f"￥{c}%"),
        (f"京口令 ({c}) 复制后打开京东查看 {t}", f"({c})"),
        (f"{t} ₰{c}₰ 打开京东购物车就能看到", f"₰{c}₰"),
        (f"2.0 ¥{c}% 京东 {t} 到手价", f"¥{c}%"),
    ]
    text, found = rng.choice(forms)
    return text, [[found, "jd"]]

def pdd():
    c, t = code(11), rng.choice(TITLES)
    forms = [
        (f"帮我砍一刀！₴{c}₴ 复制打开拼多多，{t}", f"₴{c}₴"),
        (f"（{c}）复制这段话打开拼多多，{t}只要9.9", f"（{c}）"),
        (f"拼多多百亿补贴 ￥{c}￥ {t}", f"￥{c}￥"),
    ]
    text, found = rng.choice(forms)
    return text, [[found, "pinduoduo"]]

def douyin():
    c = code(rng.choice([3, 4]))
    n, t = rng.choice(NAMES), rng.choice(TITLES)
    forms = [
        (f"{rng.randint(1,9)}.{rng.randint(10,99)} {c}:/ 复制打开抖音，看看【{n}的作品】{t} # 日常 https://v.douyin.com/{code(8)}/ ", f"{c}:/"),
        (f"{rng.randint(1,9)}.{rng.randint(10,99)} 复制打开抖音，看看【{n}的作品】今天也很开心 https://v.douyin.com/{code(8)}/ {c}:/ 0{rng.randint(1,9)}/2{rng.randint(0,9)}", f"{c}:/"),
        (f"长按复制此条消息，打开抖音搜索，查看TA的更多作品。 {c}：/ {n}", f"{c}：/"),
    ]
    text, found = rng.choice(forms)
    return text, [[found, "douyin"]]

def kuaishou():
    c, n = code(rng.choice([8, 10])), rng.choice(NAMES)
    forms = [
        (f"##{c}## 复制此消息，打开【快手】直接观看！{n}的作品", f"##{c}##"),
        (f"{n}的作品太好笑了 ＃＃{c}＃＃ 复制打开快手", f"＃＃{c}＃＃"),
    ]
    text, found = rng.choice(forms)
    return text, [[found, "kuaishou"]]

def two():
    (a, ca), (b, cb) = taobao(), rng.choice([jd, pdd, douyin])()
    return a + "\n" + b, ca + cb

LOOKALIKES = [
    "这个才￥199，那个￥299，你选哪个", "原价￥399现价￥199！", "特价￥199￥包邮", "¥12.50 一斤，贵了",
    "$20 and $30 for both", "€15,99 im Angebot", "一共花了￥1288，还行吧", "￥88 券后 ￥66",
    "(^_^) 好的", "(╯°□°）╯︵ ┻━┻", "(｡•́︿•̀｡) 好难过", "(OK)", "(=^・ω・^=) 喵", "哈哈(lol)",
    "#今日份快乐#", "#iPhone15# 到了", "#OOTD# 淘宝买的", "##好物分享## 快手", "#1#2#3",
    "(2024)年度总结", "(see page 12)", "(iPhone 15 Pro) 256G", "订单号(1234567890)已发货",
    "型号(AB12)", "邮箱 test@example.com", "密码是 Abc12345", "$HOME/bin 下面", "价格 €49.99/月",
    "时间 10:30/11:00 都可以", "比分 3:1/2:2", "ratio 16:9/4:3", "路径 /usr/local/bin/ 里",
    "https://item.taobao.com/item.htm?id=678&tk=AbCd1234XyZ 看看", "https://m.tb.cn/h.AbCd123?tm=(Ab12Cd34Ef)",
    "https://v.douyin.com/AbC12dE/ 抖音", "看这个 https://example.com/(Ab12Cd34Ef)/x 淘宝同款",
    "http://t.cn/A6Xyz12B 抖音", "淘宝搜索：夏季连衣裙", "打开京东看看有没有货", "拼多多砍一刀吗",
    "快手上看到的", "抖音好火这个", "（第2版）", "（完）", "【重要通知】明天开会", "「好的」",
    "《三体》真好看", "《Python编程》第3章", "京东自营，次日达", "天猫超市满99减10",
    "温度 25°C/77°F", "A/B test 结果", "TCP/IP 协议", "1/2 杯水", "50% off 今天", "100%好评",
    "¥", "￥￥", "(  )", "()", "#", "##", "@张三 看一下", "Re: 会议纪要", "Q3/Q4 目标",
    "v2.0/v3.0 区别", "CPU: i7/i9", "颜色: 黑/白/灰", "尺码(S/M/L)", "(x2)", "(1/3)", "[图片]",
    "[表情]", "哈哈哈(笑死)", "(づ｡◕‿‿◕｡)づ", "ヽ(✿ﾟ▽ﾟ)ノ", "(*^▽^*)", "(≧∇≦)ﾉ", "(T_T)",
    "(>_<)", "(^o^)/", "O(∩_∩)O", "(•̀ᴗ•́)و", "ʕ•ᴥ•ʔ", "(⊙o⊙)", "(ーー;)", "(￣▽￣)",
    "#周末去哪儿#", "#打工人#", "#健身打卡# 第30天", "#读书笔记#《活着》", "#美食# 红烧肉",
    "#Python# tips", "￥199 抖音同款", "淘宝价￥59.9", "京东价 ¥3299", "拼多多￥9.9包邮",
    "我的账号是 xiaoming2024", "WiFi密码: Home2024abc", "车牌 京A12345", "航班 CA1234/CA1235",
    "快递单号 SF1234567890", "工号(E12345)", "版本号(v1.2.3)", "Windows 11 / macOS 14",
    "http://localhost:8080/ 开发环境", "C:/Users/admin/Desktop", "D:/资料/2024", "16:9:/",
    "时间3:30/4:00 淘宝", "文件 a/b/c.txt", "转发：今天是个好日子", "€ 20 / € 30", "$ 5 $ 6",
    "¥ 100 ¥ 200", "((好))", "（（哈哈））", "##", "#话题##话题#", "早上好 (๑•̀ㅂ•́)و✧",
]

cases = []
for gen, n in [(taobao, 40), (tmall, 10), (jd, 14), (pdd, 12), (douyin, 14), (kuaishou, 10), (two, 8)]:
    for _ in range(n):
        text, codes = gen()
        cases.append({"text": text, "codes": codes})
for text in LOOKALIKES:
    cases.append({"text": text, "codes": []})
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.jsonl")
with open(out, "w", encoding="utf-8") as f:
    for c in cases:
        f.write(json.dumps(c, ensure_ascii=False) + "\n")
print(len(cases), "cases,", sum(1 for c in cases if c["codes"]), "with codes,",
      sum(1 for c in cases if not c["codes"]), "look-alikes")
